"""The trajectory a model expects from the caption alone: its mean clean clip at pure noise (t = 1).

At t = 1 the input holds no information, so the best prediction of the clean clip is the mean
of all training clips with that caption: for "a red circle moving right" a red smear whose
centre travels right by the whole move (half the frame in the shapes set). Sampling starts
there, so a model whose t = 1 prediction does not move with the direction word leaves the
direction to the noise seed. The probe averages the decoded prediction over several noise
seeds (what the model reads into each seed cancels out) and reports the drift of the red
centroid from the first to the last frame; the same measure on real training clips is the
reference. A model that ignores direction words shows it here before any sampling; a model
never trained at t = 1 need not predict the mean there (Lin et al. 2024, "Common
diffusion noise schedules and sample steps are flawed").

    python benchmarks/motion_prior.py --model teacher --model DIR [--seeds 16]

Drift (dx, dy) in pixels, last frame minus first, of the red centroid of the model's mean clean
clip at t = 1 (pure noise), and of the mean of real training clips. Real clips move half the
frame (+-32 px at 64x64) in the caption's direction; a model that ignores the direction word
shows the same drift for every word.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mobilevid.data.procedural import frames_to_tensor
from mobilevid.data.shapes import ShapesDataset
from mobilevid.models.rectified_flow import TIMESTEP_SCALE
from mobilevid.pipeline import Pipeline

from _common import benchmark_parser, markdown_table, write_results

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


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="model folder or built-in name (repeatable; default: teacher)")
    parser.add_argument("--seeds", type=int, default=16, help="noise seeds averaged per caption (default 16)")
    args = parser.parse_args()
    seeds = 4 if args.quick else args.seeds
    rows = []
    models = args.model or ["teacher"]
    for model in models:
        pipe = Pipeline.from_pretrained(model)
        drift = model_motion_prior(pipe, seeds=seeds)
        rows.append({"source": model, **{d: f"({x:+.1f}, {y:+.1f})" for d, (x, y) in drift.items()}})
        print(rows[-1], flush=True)
        frames, size = pipe.config.num_frames, pipe.config.height
    drift = data_motion_prior(frames, size)
    rows.append({"source": "real clips (mean of 16)", **{d: f"({x:+.1f}, {y:+.1f})" for d, (x, y) in drift.items()}})
    print(markdown_table(rows, ["source", *DIRECTIONS]))
    path = write_results("motion_prior", rows, {"seeds": seeds}, args.output, models={m: m for m in models})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
