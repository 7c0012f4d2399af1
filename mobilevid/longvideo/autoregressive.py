"""The autoregressive baseline: window after window, each conditioned on the last frames of the one before.

The baseline NUWA-XL measures itself against (Yin et al. 2023, sec. 4: "AR over X"), and the way
most long-video systems extend a clip: the first window is an ordinary clip; every next window
of f frames takes the previous window's last ``overlap`` frames as known frames (visual
condition + replacement, ``clip.sample_clip``) and generates f - overlap new ones. Windows are
sequential: the critical path is windows x steps. Frames stream to ``emit`` as each window ends,
and memory holds one window.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from mobilevid.errors import MobilevidError
from mobilevid.longvideo.clip import sample_clip
from mobilevid.longvideo.denoiser import Denoiser
from mobilevid.sampling import SamplerType, draw_noise


@dataclass
class AutoregressiveStats:
    windows: int = 0
    window_calls: int = 0
    rounds: int = 0


def window_starts(num_frames: int, window: int, overlap: int) -> list[int]:
    """First frame of each window: 0, then every ``window - overlap`` frames until the video is covered."""
    if not 0 <= overlap < window:
        raise MobilevidError(f"overlap must be between 0 and the window's {window} frames minus one, got {overlap}")
    if num_frames <= window:
        return [0]
    return [k * (window - overlap) for k in range(1 + math.ceil((num_frames - window) / (window - overlap)))]


@torch.no_grad()
def autoregressive_sample(denoise: Denoiser, sigmas: torch.Tensor, kind: SamplerType, window: int, overlap: int,
                          num_frames: int, prompt_of: Callable[[int], str], generators: Sequence[torch.Generator],
                          frame_shape: Sequence[int], emit: Callable[[int, torch.Tensor], None],
                          fps: float | None = None) -> AutoregressiveStats:
    """Stream ``num_frames`` latent frames to ``emit(first frame, latents (B, n, C, H, W))``, window by window.

    Frames past the end of the last window's share are cut; prompt_of must answer for them too.
    """
    b = len(generators)
    stats = AutoregressiveStats()
    steps = len(sigmas) - 1
    previous: torch.Tensor | None = None
    rate = None if fps is None else torch.full((b,), float(fps))
    for start in window_starts(num_frames, window, overlap):
        size = min(window, num_frames) if start == 0 else window  # every window at the model's length
        frames = list(range(start, start + size))
        prompts = [[prompt_of(p) for p in frames]] * b
        noise = draw_noise(generators, (size, *frame_shape))
        known = mask = None
        if previous is not None and overlap:
            mask = torch.zeros(b, size)
            mask[:, :overlap] = 1
            known = torch.zeros(b, size, *frame_shape)
            known[:, :overlap] = previous[:, -overlap:]
        out = sample_clip(denoise, noise, sigmas, kind, prompts, generators, known, mask, rate)
        new_from = overlap if previous is not None else 0
        emit(start + new_from, out[:, new_from:num_frames - start])
        previous = out
        stats.windows += 1
        stats.window_calls += steps * b
        stats.rounds += steps
    return stats
