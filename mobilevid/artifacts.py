"""Artifact folders: written atomically, read back with validation.

Every artifact is a folder holding ``config.json`` and ``*.safetensors`` files (plus e.g.
``scheduler_config.json`` or ``manifest.json``). A folder is built in a hidden temporary
sibling, fsynced, and renamed into place, so a crash never leaves a half-written folder
under the real name. Nothing is loaded with pickle.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from mobilevid.errors import MobilevidError

CONFIG_NAME = "config.json"


def _fsync_tree(root: Path) -> None:
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as handle:
                os.fsync(handle.fileno())
        fd = os.open(dirpath, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_dir(path: str | Path, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary sibling folder; on clean exit fsync it and rename it to ``path``.

    On an exception the temporary folder is removed. After a hard crash it stays behind
    under a hidden ``.NAME.tmp-*`` name, which no reader mistakes for the artifact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not overwrite:
        raise MobilevidError(f"output folder already exists: {path}")
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        _fsync_tree(tmp)
        old = None
        if path.exists():
            old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(path, old)
        os.rename(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically (temporary file + rename)."""
    path = Path(path)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    with open(tmp, "w") as handle:
        json.dump(obj, handle, indent=2, sort_keys=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_json(path: str | Path, what: str | None = None) -> dict[str, Any]:
    """Read a JSON object with a one-line error when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise MobilevidError(f"missing {path.name} in {path.parent}" if what is None else f"missing {what}: {path}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise MobilevidError(f"{path} is not valid JSON ({err.__class__.__name__}: {err})") from None
    if not isinstance(data, dict):
        raise MobilevidError(f"{path} must hold a JSON object")
    return data


def save_tensors(tensors: Mapping[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Save tensors as safetensors (contiguous, detached copies)."""
    clean = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    save_file(clean, str(path), metadata=metadata)
    # safetensors writes 0600 files; model folders are shared (packages, bundles): use the umask as open() does.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a safetensors file with a one-line error when it is missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise MobilevidError(f"missing weights file {path.name} in {path.parent}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        first = str(err).splitlines()[0] if str(err) else err.__class__.__name__
        raise MobilevidError(f"corrupt safetensors file {path}: {first}") from None


def check_state_dict(
    expected: Mapping[str, torch.Tensor],
    loaded: Mapping[str, torch.Tensor],
    source: str | Path,
    allow_missing: tuple[str, ...] = (),
) -> None:
    """Compare loaded tensors with the ones a config builds: missing, unexpected, shape mismatch.

    ``allow_missing``: name prefixes of tensors the file may lack (modules that start as identity).
    """
    missing = [k for k in expected if k not in loaded and not k.startswith(allow_missing)]
    if missing:
        allowed = f" (only {', '.join(p.rstrip('.') for p in allow_missing)} may be missing)" if allow_missing else ""
        raise MobilevidError(f"{source}: missing tensor '{missing[0]}' ({len(missing)} missing in all){allowed}")
    unexpected = [k for k in loaded if k not in expected]
    if unexpected:
        raise MobilevidError(
            f"{source}: unexpected tensor '{unexpected[0]}' ({len(unexpected)} in all) for this config"
        )
    for key, got in loaded.items():
        want = expected[key]
        if tuple(got.shape) != tuple(want.shape):
            raise MobilevidError(
                f"{source}: tensor '{key}' has shape {tuple(got.shape)}, the config expects {tuple(want.shape)}"
            )


def load_module_weights(module: torch.nn.Module, path: str | Path) -> None:
    """Load a safetensors file into ``module``, validating names and shapes first."""
    tensors = load_tensors(path)
    check_state_dict(module.state_dict(), tensors, path)
    module.load_state_dict(tensors, strict=True)


def read_artifact(path: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
    """Read an artifact folder: its config and every safetensors file in it (validated)."""
    path = Path(path)
    if not path.is_dir():
        raise MobilevidError(f"artifact folder not found: {path}")
    config = read_json(path / CONFIG_NAME)
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise MobilevidError(f"no .safetensors weights in {path}")
    return config, {f.name: load_tensors(f) for f in files}


def write_artifact(
    path: str | Path,
    config: dict[str, Any],
    tensors: Mapping[str, Mapping[str, torch.Tensor]],
    extra_json: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``config.json``, one safetensors file per entry of ``tensors`` and extra JSON files, atomically."""
    path = Path(path)
    with atomic_dir(path) as tmp:
        write_json(tmp / CONFIG_NAME, config)
        for name, state in tensors.items():
            save_tensors(state, tmp / name)
        for name, obj in (extra_json or {}).items():
            write_json(tmp / name, obj)
    return path
