"""``mobilevid eval``: generate held-out prompts with a model, score the videos, report a table.

Metrics per suite: the exact scorers' accuracies, VBench temporal flicker, FD-EffNet
(Frechet distance of EfficientNet-Lite0 features against real held-out clips; not FID) and
seconds per video.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from tqdm.auto import tqdm

from mobilevid.data import heldout_prompts, make_dataset
from mobilevid.eval.fd_effnet import fd_effnet
from mobilevid.eval.flicker import mean_temporal_flickering

SUITES = ("shapes", "digits", "photos")


def evaluate_model(pipe: Any, suite: str, num_prompts: int = 64, steps: int | None = None,
                   guidance: float | None = None, seed: int = 0, batch_size: int = 8,
                   progress: bool = True, label: str | None = None) -> dict[str, float]:
    """Run ``pipe`` on ``num_prompts`` held-out prompts of ``suite`` and score the results.

    ``label`` names the run on the progress bar (default ``eval SUITE``).
    """
    from mobilevid.eval import EVALUATORS

    prompts = heldout_prompts(suite, num_prompts, seed)
    videos: list[torch.Tensor] = []
    seconds = 0.0
    evals = 0
    bar = tqdm(total=len(prompts), desc=label or f"eval {suite}", disable=not progress)
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        t0 = time.perf_counter()
        out = pipe([p["caption"] for p in chunk], num_inference_steps=steps, guidance_scale=guidance,
                   seed=seed + start)
        seconds += time.perf_counter() - t0
        evals = out.model_evaluations
        videos.extend(out.frames * 2 - 1)  # the scorers read [-1, 1]
        bar.update(len(chunk))
    bar.close()
    labels = [p["labels"] for p in prompts]
    metrics = {f"{k}_accuracy" if not k.endswith("accuracy") else k: v
               for k, v in EVALUATORS[suite](videos, labels).items()}
    frames = videos[0].shape[0]
    real_set = make_dataset(suite, "heldout", num_frames=frames, size=tuple(videos[0].shape[-2:]),
                            seed=seed + 1)
    real = [real_set[i]["video"] for i in range(len(videos))]
    metrics["temporal_flickering"] = mean_temporal_flickering(videos)
    metrics["fd_effnet"] = fd_effnet(videos, real)
    metrics["seconds_per_video"] = seconds / len(prompts)
    metrics["model_evaluations_per_video"] = float(evals)
    metrics["num_prompts"] = float(len(prompts))
    return metrics


def format_metrics(rows: dict[str, dict[str, float]]) -> str:
    """Markdown: one row per (model, suite), one column per metric."""
    keys: list[str] = []
    for metrics in rows.values():
        keys += [k for k in metrics if k not in keys]
    lines = ["| run | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for name, metrics in rows.items():
        cells = []
        for k in keys:
            v = metrics.get(k)
            cells.append("" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v)))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
