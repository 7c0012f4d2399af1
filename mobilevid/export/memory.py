"""Peak resident memory of the process over a block of code."""

from __future__ import annotations

import threading


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


class PeakRSS:
    """RSS high-water mark over a ``with`` block.

    With psutil: a thread samples the RSS every millisecond (peak and increase over the RSS at
    entry). Without it: ``resource``'s ``ru_maxrss``, the process's lifetime peak (it cannot be
    reset, so the increase is only what this block added on top of every earlier peak).
    """

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        try:
            import psutil  # noqa: F401

            self.method = "psutil RSS sampled every 1 ms"
        except ImportError:
            self.method = "resource ru_maxrss (process lifetime peak)"
        self.peak = self.start = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss())
            self._stop.wait(self.interval)

    @staticmethod
    def _maxrss() -> int:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB, macOS bytes

    def __enter__(self) -> PeakRSS:
        if self.method.startswith("psutil"):
            self.start = self.peak = _rss()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        else:
            self.start = self.peak = self._maxrss()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, _rss())
        else:
            self.peak = self._maxrss()

    @property
    def peak_mb(self) -> float:
        return round(self.peak / 2**20, 1)

    @property
    def increase_mb(self) -> float:
        return round((self.peak - self.start) / 2**20, 1)
