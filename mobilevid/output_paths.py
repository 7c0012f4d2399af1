"""Output paths checked before any work: nothing a user did not ask to replace is replaced.

Every command that writes checks its outputs up front, so a bad path fails in a second, not
after minutes of sampling or training:

- a file output (video, grid, ``--json``) must not be a folder; an existing file is replaced
  only with ``--overwrite``;
- a folder output (bundle, model, run folder) may be new or an empty folder; an existing
  folder is replaced only with ``--overwrite`` and only when it is an earlier output of the
  same kind (it holds that kind's marker file: ``manifest.json`` for a bundle,
  ``model_index.json`` for a model, ...); a file there is never replaced;
- missing parent folders are created (as ``mkdir -p`` does), for every output alike; the
  nearest existing one must be a folder this process can write to.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from mobilevid.errors import MobilevidError


def check_writable_parent(path: str | Path) -> None:
    """The nearest existing ancestor of ``path`` must be a folder this process can create files in."""
    path = Path(path)
    ancestor = path.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise MobilevidError(f"cannot write {path}: {ancestor} is a file, not a folder")
    # A probe file, not os.access: access() says yes to root on read-only folders and knows nothing
    # of read-only mounts. An unnamed temporary file (O_TMPFILE) leaves no trace.
    try:
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as err:
        raise MobilevidError(f"cannot write {path}: {ancestor} is not writable "
                             f"({(err.strerror or err.__class__.__name__).lower()})") from None


def check_output_file(path: str | Path, overwrite: bool = False, what: str = "output") -> Path:
    """A file ``path`` this command may write: not a folder, not an existing file unless ``overwrite``."""
    path = Path(path)
    if path.is_dir():
        raise MobilevidError(f"{what} {path} is a folder: give a file name")
    if path.exists() and not overwrite:
        raise MobilevidError(f"{what} {path} already exists: pass --overwrite to replace it")
    check_writable_parent(path)
    return path


def is_kind(path: str | Path, marker: str) -> bool:
    """Whether ``path`` is a folder holding ``marker`` (an earlier output of that kind)."""
    return (Path(path) / marker).is_file()


def check_output_dir(path: str | Path, overwrite: bool, marker: str, what: str) -> Path:
    """A folder ``path`` this command may write (``what`` names its kind, ``marker`` is that kind's file)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise MobilevidError(f"{path} is a file, not a {what} folder: choose another output")
    if path.is_dir() and any(path.iterdir()):
        if not is_kind(path, marker):
            raise MobilevidError(f"{path} exists and is not a {what} (no {marker}): choose another output "
                                 f"(--overwrite replaces only an earlier {what})")
        if not overwrite:
            raise MobilevidError(f"{what} {path} already exists: pass --overwrite to replace it")
    check_writable_parent(path)
    return path
