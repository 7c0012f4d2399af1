"""The benchmark convention: ``python benchmarks/NAME.py [--quick]`` measures side by side in one run,
prints a Markdown table and writes ``benchmarks/results/NAME.json``.

Every results file records what it measured: the commit of the code when the benchmark started
(``git rev-parse HEAD``, and which tracked files differed from it), the SHA-256 of each model folder measured (the hash the
export manifest records), the machine and the package versions.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mobilevid.artifacts import write_json
from mobilevid.export.timing import time_runs
from mobilevid.seeding import package_versions

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "benchmarks" / "results"


def benchmark_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and sizes (for a smoke run)")
    parser.add_argument("--output", type=Path, default=None, help="results JSON (default benchmarks/results/NAME.json)")
    return parser


def log(msg: str) -> None:
    """A timestamped progress line (long benchmark runs show where they are)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def time_call(fn: Callable[[], Any], warmup: int = 2, repeats: int = 10) -> float:
    """Median wall time of ``fn()`` in seconds after ``warmup`` calls."""
    return statistics.median(time_runs(fn, repeats, warmup))


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    columns = list(columns or (rows[0].keys() if rows else []))

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count()}


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def code_version() -> dict[str, Any]:
    """The commit measured and the tracked files that differed from it (``dirty``), or nulls outside git."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None, "dirty_paths": []}
    changed = _git("status", "--porcelain", "--untracked-files=no") or ""
    paths = [line[3:] for line in changed.splitlines() if line.strip()]
    return {"commit": commit.strip(), "dirty": bool(paths), "dirty_paths": paths}


def model_record(model: str | Path | None) -> dict[str, Any]:
    """``{"model": what was asked, "path", "sha256"}`` of a model folder or built-in name; ``None``: random weights."""
    if model is None:
        return {"model": "random weights", "path": None, "sha256": None}
    from mobilevid.export.manifest import model_hash
    from mobilevid.pipeline import resolve_model_dir

    path = resolve_model_dir(model)
    try:
        shown = str(path.resolve().relative_to(REPO))
    except ValueError:
        shown = str(path)
    return {"model": str(model), "path": shown, "sha256": model_hash(path)}


# The code a benchmark measures is the code it started with: taken when the script imports this module.
STARTED_ON: dict[str, Any] | None = None


def write_results(name: str, rows: Sequence[dict[str, Any]], extra: dict[str, Any] | None = None,
                  output: Path | None = None, *, models: Mapping[str, str | Path | None]) -> Path:
    """Write ``benchmarks/results/NAME.json``: the rows, the commit, each measured model's hash, machine, versions.

    ``models``: label (as the rows name it) -> model folder or built-in name, or ``None`` for random weights.
    """
    path = output or RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"benchmark": name, **(STARTED_ON or code_version()),
                      "models": {label: model_record(m) for label, m in models.items()},
                      "machine": machine(), "versions": package_versions(),
                      "rows": list(rows), **(extra or {})})
    return path


STARTED_ON = code_version()
