"""Training checkpoints without pickle: module, EMA and optimizer state as safetensors + JSON, written atomically.

A checkpoint folder ``checkpoints/step-000500/`` holds ``model.safetensors`` (trainable
module), ``ema.safetensors``, ``optimizer.safetensors`` + ``optimizer.json`` and
``state.json`` (the step). Folders appear only complete (atomic rename), so the newest
folder is always safe to resume from.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import torch

from mobilevid.artifacts import atomic_dir, load_tensors, read_json, save_tensors, write_json
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


def save_checkpoint(root: Path, step: int, model: torch.nn.Module, ema_state: dict[str, torch.Tensor] | None,
                    optimizer: torch.optim.Optimizer, extra: dict[str, Any] | None = None, keep: int = 2) -> Path:
    path = root / f"step-{step:07d}"
    with atomic_dir(path) as tmp:
        save_tensors(model.state_dict(), tmp / "model.safetensors")
        if ema_state is not None:
            save_tensors(ema_state, tmp / "ema.safetensors")
        tensors, meta = optimizer_to_tensors(optimizer)
        save_tensors(tensors, tmp / "optimizer.safetensors")
        write_json(tmp / "optimizer.json", meta)
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


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> tuple[int, dict[str, torch.Tensor] | None, dict[str, Any]]:
    """Restore model and optimizer in place; returns (step, EMA tensors or None, state.json)."""
    from mobilevid.artifacts import check_state_dict

    state = read_json(path / "state.json")
    weights = load_tensors(path / "model.safetensors")
    check_state_dict(model.state_dict(), weights, path / "model.safetensors")
    model.load_state_dict(weights)
    try:
        optimizer_from_tensors(optimizer, load_tensors(path / "optimizer.safetensors"), read_json(path / "optimizer.json"))
    except (ValueError, KeyError) as err:
        raise MobilevidError(f"optimizer state in {path} does not match this run: {err}") from None
    ema = load_tensors(path / "ema.safetensors") if (path / "ema.safetensors").is_file() else None
    return int(state["step"]), ema, state
