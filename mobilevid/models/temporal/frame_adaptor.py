"""MagicVideo's frame-wise adaptor: a shared 2D conv, then a learnable per-frame scale and shift."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mobilevid.models.layers import zero_module


class FrameAdaptor(nn.Module):
    """Adapts image features to each frame's distribution (Zhou et al. 2022, MagicVideo, sec. 3.2).

    The per-frame scale/shift tables hold ``max_frames`` rows; a clip of F <= max_frames
    frames uses the first F rows.
    """

    def __init__(self, channels: int, groups: int, max_frames: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.frame_scale = nn.Parameter(torch.zeros(max_frames, channels))
        self.frame_shift = nn.Parameter(torch.zeros(max_frames, channels))
        self.proj_out = zero_module(nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor, ctx: object) -> torch.Tensor:
        bf, c, h, w = x.shape
        f = ctx.num_frames  # type: ignore[attr-defined]
        if f > self.frame_scale.shape[0]:
            raise ValueError(f"frame_adaptor holds {self.frame_scale.shape[0]} frames, got {f}")
        hidden = self.conv(F.silu(self.norm(x))).reshape(bf // f, f, c, h, w)
        scale = self.frame_scale[:f].reshape(1, f, c, 1, 1)
        shift = self.frame_shift[:f].reshape(1, f, c, 1, 1)
        hidden = (hidden * (1 + scale) + shift).reshape(bf, c, h, w)
        return x + self.proj_out(F.silu(hidden))
