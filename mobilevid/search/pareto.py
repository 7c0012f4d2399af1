"""The latency / quality Pareto front of a search and its plot (SnapGen-V's search reports this front)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` dominates ``b`` when it is no worse in every objective and better in one (all minimised)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def pareto_front(points: Sequence[dict[str, Any]], objectives: Sequence[str] = ("latency_ms", "proxy")
                 ) -> list[dict[str, Any]]:
    """The points no other point dominates, sorted by the first objective; equal points kept once."""
    front: list[dict[str, Any]] = []
    seen: set[tuple[float, ...]] = set()
    for p in sorted(points, key=lambda p: tuple(p[o] for o in objectives)):
        values = tuple(p[o] for o in objectives)
        if values in seen:
            continue
        if any(dominates(tuple(q[o] for o in objectives), values) for q in points):
            continue
        seen.add(values)
        front.append(p)
    return front


def plot_pareto(path: str | Path, evaluated: Sequence[dict[str, Any]], front: Sequence[dict[str, Any]],
                latency_budget_ms: float, references: Sequence[dict[str, Any]] = (),
                chosen: dict[str, Any] | None = None, title: str = "temporal-layer search") -> Path:
    """``pareto.png``: every evaluated arch, the front, the latency budget, reference archs and the chosen one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.scatter([p["latency_ms"] for p in evaluated], [p["proxy"] for p in evaluated], s=10, c="0.7",
               label=f"evaluated ({len(evaluated)})")
    ax.plot([p["latency_ms"] for p in front], [p["proxy"] for p in front], "-o", c="tab:blue", ms=4,
            label="Pareto front")
    ax.axvline(latency_budget_ms, ls="--", c="tab:red", label=f"budget {latency_budget_ms:g} ms")
    markers = "s^Dvp<>"
    for i, ref in enumerate(references):
        ax.scatter([ref["latency_ms"]], [ref["proxy"]], marker=markers[i % len(markers)], s=50, zorder=3,
                   label=ref["name"])
    if chosen is not None:
        ax.scatter([chosen["latency_ms"]], [chosen["proxy"]], marker="*", s=180, c="gold", edgecolors="k",
                   zorder=4, label="searched")
    ax.set_xlabel("predicted denoiser latency (ms, cost table)")
    ax.set_ylabel("proxy: flow-matching loss (held-out)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
