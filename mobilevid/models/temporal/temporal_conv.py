"""Temporal convolution over frames (kernel 3), as in VideoLDM / SnapGen-V temporal blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mobilevid.models.layers import zero_module


class TemporalConv(nn.Module):
    """GroupNorm, SiLU, then a Conv2d with kernel (k, 1) on a (B, C, F, H*W) view.

    Conv3d is avoided on purpose: it fails at run time on ExecuTorch's XNNPACK/portable path;
    a (k, 1) Conv2d over the frame axis computes the same numbers everywhere.
    """

    def __init__(self, channels: int, groups: int, kernel: int = 3) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.conv = nn.Conv2d(channels, channels, (kernel, 1), padding=(kernel // 2, 0))
        self.proj_out = zero_module(nn.Conv2d(channels, channels, (kernel, 1), padding=(kernel // 2, 0)))

    def forward(self, x: torch.Tensor, ctx: object) -> torch.Tensor:
        bf, c, h, w = x.shape
        f = ctx.num_frames  # type: ignore[attr-defined]
        b = bf // f
        video = x.reshape(b, f, c, h * w).transpose(1, 2)  # (B, C, F, H*W)
        hidden = self.conv(F.silu(self.norm(video)))
        hidden = self.proj_out(F.silu(hidden))
        return x + hidden.transpose(1, 2).reshape(bf, c, h, w)
