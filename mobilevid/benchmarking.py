"""The benchmark convention: ``python benchmarks/NAME.py [--quick]`` measures side by side in one run,
prints a Markdown table and writes ``benchmarks/results/NAME.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mobilevid.artifacts import write_json
from mobilevid.seeding import package_versions

RESULTS_DIR = Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def benchmark_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and sizes (for a smoke run)")
    parser.add_argument("--output", type=Path, default=None, help="results JSON (default benchmarks/results/NAME.json)")
    return parser


def time_runs(fn: Callable[[], Any], runs: int, warmup: int) -> list[float]:
    """Wall times (seconds) of ``runs`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


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
            "cpus": os.cpu_count()}


def write_results(name: str, rows: Sequence[dict[str, Any]], extra: dict[str, Any] | None = None,
                  output: Path | None = None) -> Path:
    """Write ``benchmarks/results/NAME.json`` with the rows, the machine and package versions."""
    path = output or RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"benchmark": name, "machine": machine(), "versions": package_versions(),
                      "rows": list(rows), **(extra or {})})
    return path
