"""Wall-clock timing: the one timing loop of profiles and benchmarks, thread settings, runners, summaries."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

Runner = Callable[[Sequence[torch.Tensor]], list[torch.Tensor]]


def time_runs(fn: Callable[[], Any], runs: int, warmup: int) -> list[float]:
    """Wall times (seconds) of ``runs`` calls of ``fn`` after ``warmup`` untimed ones."""
    return wall_and_cpu_runs(fn, runs, warmup)[0]


def wall_and_cpu_runs(fn: Callable[[], Any], runs: int, warmup: int) -> tuple[list[float], list[float]]:
    """Wall and process CPU times (seconds) of ``runs`` calls of ``fn`` after ``warmup`` untimed ones.

    On a machine shared with other jobs a one-thread run's wall time includes waiting for the core;
    its CPU time is close to what the run takes on an idle core.
    """
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def set_threads(threads: int | None) -> None:
    """Intra-op threads for torch and ExecuTorch's XNNPACK pool (ONNX Runtime takes them per session).

    On a machine shared with other jobs, more threads than free cores make OpenMP-style
    pools wait on each other: on a loaded 2-core machine torch eager with 2 threads ran 10x slower
    than with 1.
    """
    if threads is None:
        return
    torch.set_num_threads(threads)
    try:
        from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool

        _unsafe_reset_threadpool(threads)
    except ImportError:  # ExecuTorch's runtime not installed: nothing to set
        pass


def runner(path: Path, runtime: str, threads: int | None = None) -> Runner:
    """``load_runner``, with ONNX Runtime's intra-op threads set when asked."""
    if runtime == "onnxruntime" and threads is not None:
        from mobilevid.export.onnx_target import onnx_runner

        return onnx_runner(path, threads=threads)
    from mobilevid.export.bundle_runtime import load_runner

    return load_runner(path, runtime)


def summarize_ms(times: Sequence[float]) -> dict[str, float]:
    ms = np.asarray(times) * 1e3
    return {"median_ms": round(float(np.median(ms)), 4), "p90_ms": round(float(np.percentile(ms, 90)), 4),
            "min_ms": round(float(ms.min()), 4)}
