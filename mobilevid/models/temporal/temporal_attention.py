"""Attention-based temporal candidates: 1D over frames, directed (causal), 3D, and cross to text.

All work in the ANE-friendly (N, C, 1, S) layout with 1x1 conv projections and add a fixed
sinusoidal frame-position code so attention knows frame order.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from mobilevid.models.layers import MASK_VALUE, ChannelsFirstAttention, sinusoidal_positions, zero_module


@dataclass
class TemporalContext:
    """What temporal layers need beyond the hidden states."""

    num_frames: int
    text: torch.Tensor | None = None  # (B, D, 1, L) token states of each clip's prompt
    text_bias: torch.Tensor | None = None  # (B, 1, 1, L) additive padding mask, or None


class _FrameAttentionBase(nn.Module):
    def __init__(self, channels: int, groups: int, head_dim: int, context_dim: int | None = None) -> None:
        super().__init__()
        head_dim = min(head_dim, channels)
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.attn = ChannelsFirstAttention(channels, channels // head_dim, head_dim, context_dim=context_dim)
        zero_module(self.attn.to_out)

    def _frame_codes(self, f: int, x: torch.Tensor) -> torch.Tensor:
        return sinusoidal_positions(f, x.shape[1], x.device, x.dtype)  # (C, F)


class TemporalAttention(_FrameAttentionBase):
    """Self-attention over the F frames at each spatial position (1D temporal attention, VideoLDM)."""

    causal = False

    def forward(self, x: torch.Tensor, ctx: TemporalContext) -> torch.Tensor:
        bf, c, h, w = x.shape
        f = ctx.num_frames
        b = bf // f
        tokens = self.norm(x).reshape(b, f, c, h * w).permute(0, 3, 2, 1).reshape(b * h * w, c, 1, f)
        tokens = tokens + self._frame_codes(f, x).reshape(1, c, 1, f)
        bias = None
        if self.causal:
            # Frame p may attend only to frames q <= p (MagicVideo's directed temporal attention).
            future = torch.ones(f, f, dtype=torch.bool, device=x.device).triu(1)
            bias = torch.zeros(f, f, dtype=x.dtype, device=x.device).masked_fill(future, MASK_VALUE)
        out = self.attn(tokens, bias=bias)  # (B*HW, C, 1, F)
        out = out.reshape(b, h * w, c, f).permute(0, 3, 2, 1).reshape(bf, c, h, w)
        return x + out


class DirectedTemporalAttention(TemporalAttention):
    """Directed temporal attention (Zhou et al. 2022, MagicVideo): frame p attends to frames q <= p."""

    causal = True


class SpatioTemporalAttention(_FrameAttentionBase):
    """Full 3D self-attention over all frames and positions; costly, so allowed only at low resolution."""

    def forward(self, x: torch.Tensor, ctx: TemporalContext) -> torch.Tensor:
        bf, c, h, w = x.shape
        f = ctx.num_frames
        b = bf // f
        tokens = self.norm(x).reshape(b, f, c, h * w) + self._frame_codes(f, x).t().reshape(1, f, c, 1)
        tokens = tokens.transpose(1, 2).reshape(b, c, 1, f * h * w)
        out = self.attn(tokens).reshape(b, c, f, h * w).transpose(1, 2).reshape(bf, c, h, w)
        return x + out


class TemporalCrossAttention(_FrameAttentionBase):
    """Frame-aware cross-attention to the text tokens: each frame (with its position code) queries the prompt.

    Lets frames pick different words over time (e.g. the motion phrase), as temporal
    cross-attention layers in SnapGen-V's search space do.
    """

    def forward(self, x: torch.Tensor, ctx: TemporalContext) -> torch.Tensor:
        if ctx.text is None:
            raise ValueError("temporal_cross_attention needs text token states")
        bf, c, h, w = x.shape
        f = ctx.num_frames
        b = bf // f
        tokens = self.norm(x).reshape(b, f, c, h * w) + self._frame_codes(f, x).t().reshape(1, f, c, 1)
        tokens = tokens.transpose(1, 2).reshape(b, c, 1, f * h * w)
        out = self.attn(tokens, ctx.text, ctx.text_bias)
        return x + out.reshape(b, c, f, h * w).transpose(1, 2).reshape(bf, c, h, w)
