"""The trajectory a model expects from the caption alone: its mean clean clip at pure noise (t = 1).

At t = 1 the input holds no information, so the best prediction of the clean clip is the mean
of all training clips with that caption: for "a red circle moving right" a red smear whose
centre travels right by the whole move (half the frame in the shapes set). Sampling starts
there, so a model whose t = 1 prediction does not move with the direction word leaves the
direction to the noise seed. The probe averages the decoded prediction over several noise
seeds (what the model reads into each seed cancels out) and reports the drift of the red
centroid from the first to the last frame; the same measure on real training clips is the
reference. Used to diagnose why the tiny teacher ignores direction words (README, "Motion");
a model never trained at t = 1 need not predict the mean there (Lin et al. 2024, "Common
diffusion noise schedules and sample steps are flawed").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mobilevid.data.procedural import frames_to_tensor
from mobilevid.data.shapes import ShapesDataset
from mobilevid.models.rectified_flow import TIMESTEP_SCALE

DIRECTIONS = ("left", "right", "up", "down")


def red_centroid_drift(video: torch.Tensor) -> list[tuple[float, float]]:
    """(B, F, 3, H, W) in [-1, 1] -> per clip (dx, dy) in pixels of the red-excess centroid, last minus first frame."""
    red = (video[:, :, 0] - video[:, :, 1:].mean(2)).clamp(min=0)  # (B, F, H, W)
    h, w = red.shape[-2:]
    mass = red.sum((-1, -2)) + 1e-6
    cx = (red.sum(-2) * torch.arange(w, dtype=red.dtype)).sum(-1) / mass
    cy = (red.sum(-1) * torch.arange(h, dtype=red.dtype)).sum(-1) / mass
    return [(float(cx[i, -1] - cx[i, 0]), float(cy[i, -1] - cy[i, 0])) for i in range(video.shape[0])]


def _captions(shape: str) -> list[str]:
    return [ShapesDataset.caption({"color": "red", "shape": shape, "motion": d}) for d in DIRECTIONS]


@torch.no_grad()
def model_motion_prior(pipe: Any, seeds: int = 16, shape: str = "circle") -> dict[str, tuple[float, float]]:
    """Drift of ``pipe``'s mean t = 1 prediction for "a red SHAPE moving D", per direction D."""
    states, pooled, mask = pipe.encode_prompts(_captions(shape))
    n, cfg = len(DIRECTIONS), pipe.denoiser.config
    fps = torch.full((n,), float(pipe.config.fps))
    t = torch.full((n,), float(TIMESTEP_SCALE))
    mean = 0
    for seed in range(seeds):
        gen = torch.Generator().manual_seed(seed)
        noise = torch.randn(1, cfg.num_frames, cfg.in_channels, cfg.latent_height, cfg.latent_width, generator=gen)
        noise = noise.expand(n, -1, -1, -1, -1)
        velocity = pipe.denoiser(noise, t, states, encoder_attention_mask=mask, pooled_text=pooled, fps=fps)
        mean = mean + pipe.vae.decode(noise - velocity).float() / seeds  # x0 = x_1 - v at t = 1
    return dict(zip(DIRECTIONS, red_centroid_drift(mean), strict=True))


def data_motion_prior(num_frames: int = 16, size: int = 64, clips: int = 16,
                      shape: str = "circle") -> dict[str, tuple[float, float]]:
    """The same drift for the mean of ``clips`` real shapes clips per direction (the target)."""
    data = ShapesDataset("train", num_frames=num_frames, size=size)
    means = []
    for d in DIRECTIONS:
        videos = [frames_to_tensor(data.render(("red", shape, d), i, np.random.default_rng(i))) for i in range(clips)]
        means.append(torch.stack(videos).mean(0))
    return dict(zip(DIRECTIONS, red_centroid_drift(torch.stack(means)), strict=True))
