"""Training checkpoints without pickle: modules, EMA and optimizer state as safetensors + JSON, written atomically.

A checkpoint folder ``checkpoints/step-000500/`` holds, for every named part of the run
(``model``; or ``student`` and ``heads`` in distillation), ``NAME.safetensors``,
``NAME.optimizer.safetensors`` + ``NAME.optimizer.json`` and, where kept, ``NAME.ema.safetensors``,
plus ``state.json`` (the step). Folders appear only complete (atomic rename), so the newest
folder is always safe to resume from. A checkpoint write killed halfway leaves a hidden
``.step-*.tmp-*`` folder; the next checkpoint of the run removes it (``remove_killed_writes``:
only those whose process is gone, never a live write's).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import torch

from mobilevid.artifacts import (
    atomic_dir,
    check_state_dict,
    load_tensors,
    read_json,
    remove_killed_writes,
    save_tensors,
    write_json,
)
from mobilevid.errors import MobilevidError

_STEP_DIR = re.compile(r"^step-(\d+)$")


def optimizer_to_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {"param_groups": state["param_groups"], "scalars": {}}
    for pid, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{key}"] = value
            else:
                meta["scalars"][f"{pid}.{key}"] = value
    return tensors, meta


def optimizer_from_tensors(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                           meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in list(tensors.items()) + list(meta["scalars"].items()):
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def _unwrap(optimizer: Any) -> torch.optim.Optimizer:
    return optimizer.optimizer if hasattr(optimizer, "optimizer") else optimizer  # accelerate's wrapper


def save_checkpoint(root: Path, step: int, modules: dict[str, torch.nn.Module],
                    optimizers: dict[str, torch.optim.Optimizer],
                    emas: dict[str, dict[str, torch.Tensor]] | None = None,
                    extra: dict[str, Any] | None = None, keep: int = 2) -> Path:
    path = root / f"step-{step:07d}"
    # A killed write of any step, not only this one: a resumed run rarely checkpoints the same step again.
    remove_killed_writes(root, "step-*")
    # A folder of the same step (state.json) is this run's own checkpoint, written again after a resume.
    with atomic_dir(path, overwrite=True, marker="state.json", what="checkpoint") as tmp:
        for name, module in modules.items():
            save_tensors(module.state_dict(), tmp / f"{name}.safetensors")
        for name, optimizer in optimizers.items():
            tensors, meta = optimizer_to_tensors(_unwrap(optimizer))
            save_tensors(tensors, tmp / f"{name}.optimizer.safetensors")
            write_json(tmp / f"{name}.optimizer.json", meta)
        for name, ema in (emas or {}).items():
            save_tensors(ema, tmp / f"{name}.ema.safetensors")
        write_json(tmp / "state.json", {"step": step, **(extra or {})})
    for old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return path


def list_checkpoints(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if (m := _STEP_DIR.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found)]


def latest_checkpoint(root: Path) -> Path | None:
    found = list_checkpoints(root)
    return found[-1] if found else None


def load_checkpoint(path: Path, modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                    ) -> tuple[int, dict[str, dict[str, torch.Tensor]], dict[str, Any]]:
    """Restore modules and optimizers in place; returns (step, EMA tensors by name, state.json)."""
    state = read_json(path / "state.json")
    for name, module in modules.items():
        weights = load_tensors(path / f"{name}.safetensors")
        check_state_dict(module.state_dict(), weights, path / f"{name}.safetensors")
        module.load_state_dict(weights)
    for name, optimizer in optimizers.items():
        try:
            optimizer_from_tensors(_unwrap(optimizer), load_tensors(path / f"{name}.optimizer.safetensors"),
                                   read_json(path / f"{name}.optimizer.json"))
        except (ValueError, KeyError) as err:
            raise MobilevidError(f"optimizer state in {path} does not match this run: {err}") from None
    emas = {p.name[: -len(".ema.safetensors")]: load_tensors(p) for p in path.glob("*.ema.safetensors")}
    return int(state["step"]), emas, state
