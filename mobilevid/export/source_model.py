"""The PyTorch model a bundle was exported from, found again for torch-runtime timing and the block breakdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mobilevid.errors import MobilevidError


def _denoiser_shape_matches(pipe: Any, manifest: dict[str, Any]) -> bool:
    den = manifest["components"].get("denoiser")
    cfg = pipe.denoiser.config
    want = [1, pipe.config.num_frames, cfg.in_channels, cfg.latent_height, cfg.latent_width]
    if den is not None:
        return list(den["inputs"][0]["shape"]) == want
    video = manifest["video"]
    return [video["frames"], video["height"], video["width"]] == [pipe.config.num_frames, pipe.config.height,
                                                                  pipe.config.width]


def source_pipeline(manifest: dict[str, Any]) -> tuple[Any, str]:
    """The PyTorch model a bundle was exported from, and a line saying which one it is.

    The manifest's model folder when it exists here; otherwise the built-in default model, or
    the manifest's preset with random weights (latency does not depend on the weights), when
    its shapes match the bundle's.
    """
    from mobilevid.models.presets import PRESETS, get_preset
    from mobilevid.pipeline import Pipeline

    src = (manifest.get("provenance") or {}).get("source_model") or {}
    path, preset = src.get("path"), src.get("preset")
    if path and Path(path).is_dir():
        return Pipeline.from_pretrained(path), f"model folder {path}"
    missing = f"source model {path} not found here; " if path else ""
    pipe = Pipeline.from_pretrained(None)
    if _denoiser_shape_matches(pipe, manifest):
        return pipe, f"{missing}built-in default model"
    if preset in PRESETS:
        pipe = Pipeline.from_config(get_preset(preset))
        if _denoiser_shape_matches(pipe, manifest):
            return pipe, f"{missing}preset {preset} with random weights (timing only)"
    raise MobilevidError(f"{missing}no model here has the bundle's shapes (preset {preset!r}): "
                         "keep the source model folder to profile the denoiser's blocks or --runtime torch")
