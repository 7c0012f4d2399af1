"""Starting a training run: the run folder, the accelerator, the seed, the run record and the TensorBoard tracker.

``run_folder`` guards one command's run folder: it checks it before any work (``--resume``
continues a run of the same kind, ``--overwrite`` replaces one), and when the run fails before it
wrote anything a rerun could use (a checkpoint, a cached pool, a finished VAE or model), it
removes what the run wrote (its ``run.json``, TensorBoard logs, empty stage folders), so the
corrected command runs without ``--resume``. Files that were there before are never removed.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator, DistributedDataParallelKwargs

from mobilevid.artifacts import read_json, remove_killed_writes, temp_sibling
from mobilevid.errors import MobilevidError
from mobilevid.output_paths import check_writable_parent
from mobilevid.seeding import RUN_RECORD, record_run, seed_everything

_BOOKKEEPING_DIRS = ("logs",)  # TensorBoard: no use to a rerun


def run_kind(folder: str | Path) -> str | None:
    """The command whose run folder ``folder`` is ("train", "distill", ...), from its ``run.json``; else None."""
    path = Path(folder) / RUN_RECORD
    if not path.is_file():
        return None
    try:
        record = read_json(path)
    except MobilevidError:
        return None
    if isinstance(record.get("kind"), str):
        return record["kind"]
    # Records without a kind: the command line names the command.
    try:
        words = shlex.split(str(record.get("command", "")))
    except ValueError:
        words = []
    return next((w for w in words[1:] if not w.startswith("-")), None)


def check_run_folder(out: str | Path, kind: str, resume: bool = False, overwrite: bool = False) -> Path:
    """``out`` as the run folder of a ``kind`` command; one-line errors before any work."""
    out = Path(out)
    if resume and overwrite:
        raise MobilevidError("--resume continues a run and --overwrite replaces it: pass one of them")
    if out.exists() and not out.is_dir():
        raise MobilevidError(f"{out} is a file, not a run folder: choose another --output")
    if out.is_dir() and any(out.iterdir()):
        found = run_kind(out)
        if found is not None and found != kind:
            raise MobilevidError(f"{out} is the run folder of `mobilevid {found}`, not of `mobilevid {kind}`: "
                                 "choose another --output")
        if found is None:
            raise MobilevidError(f"{out} is not empty and is not a run folder (no {RUN_RECORD}): choose another "
                                 "--output")
        if not resume and not overwrite:
            raise MobilevidError(f"run folder {out} is not empty: pass --resume to continue it, --overwrite to "
                                 "replace it, or choose another --output")
    check_writable_parent(out / RUN_RECORD if out.is_dir() else out)
    return out


def _paths(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.is_dir() else set()


def _is_result(relative: str) -> bool:
    """Whether a file a run wrote is of use to a rerun (anything but the run record, logs, temporary files)."""
    parts = Path(relative).parts
    return not (parts[-1] == RUN_RECORD or parts[-1].startswith(".") or any(p in _BOOKKEEPING_DIRS for p in parts))


def _remove_new(root: Path, before: set[str]) -> None:
    """Remove what appeared under ``root`` since ``before`` (top-down: a new folder goes whole)."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        for name in filenames:
            if str((here / name).relative_to(root)) not in before:
                (here / name).unlink(missing_ok=True)
        for name in list(dirnames):
            if str((here / name).relative_to(root)) not in before:
                shutil.rmtree(here / name, ignore_errors=True)
                dirnames.remove(name)


def _is_main_process() -> bool:
    # accelerate launch sets RANK; asking accelerate itself would set up the process group here.
    return os.environ.get("RANK", "0") == "0"


@contextlib.contextmanager
def run_folder(out: str | Path, kind: str, resume: bool = False, overwrite: bool = False) -> Iterator[Path]:
    """The run folder of one ``kind`` command (train, distill): checked, replaced, cleaned up after an early failure.

    With ``overwrite`` an earlier run folder of the same kind is moved aside, removed once the new
    run ends and put back if the new run fails before writing anything of use.
    """
    out = Path(out)
    check_run_folder(out, kind, resume, overwrite)
    if not _is_main_process():
        yield out
        return
    remove_killed_writes(out.parent, out.name)  # e.g. a run folder an earlier --overwrite moved aside
    aside = None
    if overwrite and out.is_dir() and any(out.iterdir()):
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise MobilevidError("--overwrite runs in one process: remove the old run folder first, then launch")
        aside = temp_sibling(out, "old")
        os.rename(out, aside)
    existed = out.is_dir()
    before = _paths(out)
    try:
        yield out
    except BaseException:
        if not any(_is_result(p) for p in _paths(out) - before):
            if existed:
                _remove_new(out, before)
            else:
                shutil.rmtree(out, ignore_errors=True)
            if aside is not None and not out.exists():
                os.rename(aside, out)
                aside = None
        raise
    finally:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)


def start_run(out: Path, mixed_precision: str, seed: int, record: dict[str, Any], argv: list[str] | None,
              tracker: str) -> Accelerator:
    """An ``Accelerator`` for ``out``, seeded, with ``run.json`` written by the main process."""
    if mixed_precision == "bf16" and not torch.cuda.is_available() and not cpu_has_native_bf16():
        warnings.warn("bf16 autocast on a CPU without native bf16 (AVX512-BF16/AMX) is emulated and was ~6x "
                      "slower per step than fp32 on a 2-core AVX2 EPYC: pass --set mixed_precision=no", stacklevel=2)
    # cpu=True without CUDA: launched with several processes, accelerate then uses gloo (MULTI_CPU).
    # Some inputs (visual condition, pooled text) are used only in some steps: DDP must allow unused parameters.
    acc = Accelerator(cpu=not torch.cuda.is_available(), mixed_precision=mixed_precision, log_with="tensorboard",
                      project_dir=str(out / "logs"),
                      kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    seed_everything(seed)
    if acc.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        record_run(out, {**record, "num_processes": acc.num_processes, "backend": str(acc.state.backend)}, argv,
                   kind=tracker)
    acc.init_trackers(tracker)
    return acc


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX); else autocast emulates it."""
    # torch has no public query for this; oneDNN's own check is what autocast's kernels depend on.
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
