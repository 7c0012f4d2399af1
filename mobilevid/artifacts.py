"""Artifact folders: written atomically, read back with validation.

Every artifact is a folder holding ``config.json`` and ``*.safetensors`` files (plus e.g.
``scheduler_config.json`` or ``manifest.json``). A folder is built in a hidden temporary
sibling, fsynced, and renamed into place, so a crash never leaves a half-written folder
under the real name; the next write to the same place removes what a killed write left.
An existing folder is replaced only when the caller says so and it is of the same kind.
Nothing is loaded with pickle.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import logging
import os
import re
import shutil
import socket
import time
import uuid
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from mobilevid.errors import MobilevidError
from mobilevid.output_paths import check_output_dir

logger = logging.getLogger("mobilevid")

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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- temporary siblings and the leftovers of killed writes -----------------------------------------
# A write builds ``.NAME.tmp-HOST-PID-RAND`` beside ``NAME`` (and, replacing an artifact, moves the old
# one to ``.NAME.old-HOST-PID-RAND`` for the instant of the swap). The host and pid say whose write it
# is: the next write to the same place removes a sibling whose process on this host is gone (killed),
# and leaves alone the ones of a live process (a write still running) or of another host (a shared
# disk, where this host cannot tell). A reused pid only makes a leftover stay longer.
_HOST = f"{zlib.crc32(socket.gethostname().encode()):08x}"
_SIBLING = re.compile(r"^\.(?P<name>.+)\.(?P<role>tmp|old)-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[0-9a-f]{8}(\.\w+)?$")
# Names of earlier mobilevid versions (no host or pid): taken as a killed write's once untouched for a day.
_LEGACY_SIBLING = re.compile(r"^\.(?P<name>.+)\.(?P<role>tmp|old)-[0-9a-f]{8}(\.\w+)?$")
_LEGACY_AGE_SECONDS = 24 * 3600


def temp_sibling(path: str | Path, role: str = "tmp", suffix: str = "") -> Path:
    """A hidden sibling of ``path`` named for this process (``role`` "tmp" for a write, "old" for a swap)."""
    path = Path(path)
    return path.parent / f".{path.name}.{role}-{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _newest_mtime(path: Path) -> float:
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_mtime
    return max([path.lstat().st_mtime] + [p.lstat().st_mtime for p in path.rglob("*")])


def _killed_write(entry: Path) -> tuple[str, str] | None:
    """(target name, role) when ``entry`` is the leftover of a write whose process is gone, else None."""
    if m := _SIBLING.match(entry.name):
        if m["host"] == _HOST and not _pid_alive(int(m["pid"])):
            return m["name"], m["role"]
        return None
    if m := _LEGACY_SIBLING.match(entry.name):
        try:
            if time.time() - _newest_mtime(entry) > _LEGACY_AGE_SECONDS:
                return m["name"], m["role"]
        except OSError:  # removed meanwhile
            return None
    return None


def remove_killed_writes(parent: str | Path, target: str) -> list[Path]:
    """Clean up what killed writes left beside ``parent / NAME`` for names matching the glob ``target``.

    A killed write's temporary sibling is removed. A moved-aside old artifact (the write was killed
    between its two renames) is put back when nothing took its place, else removed. Returns what
    was removed or put back.
    """
    parent = Path(parent)
    if not parent.is_dir():
        return []
    done = []
    for entry in sorted(parent.iterdir(), key=lambda p: p.name):
        found = _killed_write(entry) if entry.name.startswith(".") else None
        if found is None or not fnmatch.fnmatchcase(found[0], target):
            continue
        name, role = found
        try:
            if role == "old" and not os.path.lexists(parent / name):
                os.rename(entry, parent / name)
                logger.warning("put back %s, moved aside by a write that was killed", parent / name)
            elif entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:  # another process cleaned it up first
            continue
        done.append(entry)
    return done


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | Path, overwrite: bool = False, marker: str = CONFIG_NAME,
               what: str = "artifact") -> Iterator[Path]:
    """Yield a temporary sibling folder; on clean exit fsync it and rename it to ``path``.

    ``path`` must be new or an empty folder. With ``overwrite`` it may also be an earlier artifact of
    the same kind, a folder holding ``marker`` (``what`` names the kind in errors), which is replaced
    only once the new folder is complete. On an exception the temporary folder is removed; after a
    hard crash it stays behind under a hidden name, which no reader mistakes for the artifact and
    the next write to ``path`` removes.
    """
    path = Path(path)
    check_output_dir(path, overwrite, marker, what)
    path.parent.mkdir(parents=True, exist_ok=True)
    if remove_killed_writes(path.parent, path.name):
        check_output_dir(path, overwrite, marker, what)  # an old artifact may have been put back
    tmp = temp_sibling(path)
    tmp.mkdir()
    try:
        yield tmp
        _fsync_tree(tmp)
        check_output_dir(path, overwrite, marker, what)  # again: something may have appeared meanwhile
        old = None
        if os.path.lexists(path):
            old = temp_sibling(path, "old")
            os.rename(path, old)
        os.rename(tmp, path)
        _fsync_dir(path.parent)
        if old is not None:
            _remove(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically (temporary file + rename)."""
    path = Path(path)
    remove_killed_writes(path.parent, path.name)
    tmp = temp_sibling(path)
    try:
        with open(tmp, "w") as handle:
            json.dump(obj, handle, indent=2, sort_keys=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
    overwrite: bool = False,
) -> Path:
    """Write ``config.json``, one safetensors file per entry of ``tensors`` and extra JSON files, atomically.

    ``overwrite`` replaces an earlier artifact folder (one with ``config.json``) at ``path``.
    """
    path = Path(path)
    with atomic_dir(path, overwrite, CONFIG_NAME) as tmp:
        write_json(tmp / CONFIG_NAME, config)
        for name, state in tensors.items():
            save_tensors(state, tmp / name)
        for name, obj in (extra_json or {}).items():
            write_json(tmp / name, obj)
    return path
