"""Milliseconds per video from per-component figures: the number of calls each component makes per video."""

from __future__ import annotations

from typing import Any

from mobilevid.export.components import COMPONENTS
from mobilevid.sampling import calls_per_step


def video_total(components: dict[str, dict[str, Any]], sampler: dict[str, Any], key: str = "median_ms"
                ) -> dict[str, Any] | None:
    """``text_encoder + steps x calls_per_step x denoiser + vae_decoder`` (None when a component or value is missing)."""
    steps, guidance = int(sampler["steps"]), float(sampler["guidance_scale"])
    per_step = calls_per_step(guidance)
    values = [components.get(name, {}).get(key) for name in COMPONENTS]
    info = {"steps": steps, "guidance_scale": guidance, "calls_per_step": per_step, "denoiser_calls": steps * per_step,
            "formula": f"text_encoder + {steps} steps x {per_step} x denoiser + vae_decoder"}
    if any(v is None for v in values):
        return {**info, "total_ms": None}
    te, den, dec = values
    return {**info, "total_ms": round(te + steps * per_step * den + dec, 4)}
