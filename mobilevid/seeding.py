"""Reproducibility: one seed for every generator, and a record of each run."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import random
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mobilevid.artifacts import write_json

RUN_RECORD = "run.json"
_RECORDED_PACKAGES = ("mobilevid", "torch", "executorch", "coremltools", "diffusers", "accelerate", "onnxruntime")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)


def package_versions() -> dict[str, str]:
    """Versions of the packages that decide a run's numbers."""
    versions = {"python": platform.python_version()}
    for name in _RECORDED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def record_run(output_dir: str | Path, resolved_config: dict[str, Any], argv: list[str] | None = None,
               kind: str | None = None) -> Path:
    """Write ``run.json`` (the command's ``kind``, resolved config, command line, versions, machine) into a run folder.

    ``kind`` ("train", "distill", ...) says which command may ``--resume`` or ``--overwrite`` the folder.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    argv = list(sys.argv if argv is None else argv)
    record = {
        **({"kind": kind} if kind else {}),
        "command": shlex.join(argv),
        "config": resolved_config,
        "versions": package_versions(),
        "machine": {"platform": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count()},
    }
    path = output_dir / RUN_RECORD
    if path.is_file():
        # A resumed run keeps the record of every earlier invocation.
        from mobilevid.artifacts import read_json

        previous = read_json(path)
        record["earlier"] = previous.pop("earlier", []) + [previous]
    write_json(path, record)
    return path
