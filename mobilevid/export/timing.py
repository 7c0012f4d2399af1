"""Wall-clock timing of a callable, the one timing loop of profiles and benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


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
