"""Spatial transformer block of the SnapGen-style backbone (self-attn, cross-attn to text, FFN).

Mirrors diffusers' ``Transformer2DModel`` + ``BasicTransformerBlock`` (continuous input) in
math and parameter names, written in the ANE-friendly (N, C, 1, S) layout.
"""

from __future__ import annotations

import torch
from torch import nn

from mobilevid.models.layers import ChannelsFirstAttention, GEGLUFeedForward, LayerNormChannels


class TransformerLayer(nn.Module):
    """Pre-norm self-attention, cross-attention to text tokens and GEGLU FFN, each residual."""

    def __init__(self, dim: int, heads: int, head_dim: int, context_dim: int, multi_query: bool = False) -> None:
        super().__init__()
        self.norm1 = LayerNormChannels(dim)
        self.attn1 = ChannelsFirstAttention(dim, heads, head_dim, multi_query=multi_query)
        self.norm2 = LayerNormChannels(dim)
        self.attn2 = ChannelsFirstAttention(dim, heads, head_dim, context_dim=context_dim, multi_query=multi_query)
        self.norm3 = LayerNormChannels(dim)
        self.ff = GEGLUFeedForward(dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor, context_bias: torch.Tensor | None) -> torch.Tensor:
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context, context_bias)
        return x + self.ff(self.norm3(x))


class SpatialTransformer(nn.Module):
    """GroupNorm, 1x1 projection in, transformer layers over H*W tokens, 1x1 projection out, residual."""

    def __init__(
        self, channels: int, heads: int, context_dim: int, groups: int, layers: int = 1, multi_query: bool = False,
        head_dim: int | None = None,
    ) -> None:
        super().__init__()
        head_dim = head_dim or channels // heads  # a pruned model keeps whole heads: heads * head_dim != channels
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.transformer_blocks = nn.ModuleList(
            TransformerLayer(channels, heads, head_dim, context_dim, multi_query) for _ in range(layers)
        )
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor, context: torch.Tensor, context_bias: torch.Tensor | None) -> torch.Tensor:
        """x: (N, C, H, W); context: (N, D, 1, L) text tokens; context_bias: (N, 1, 1, L) or None."""
        n, c, h, w = x.shape
        hidden = self.proj_in(self.norm(x)).reshape(n, c, 1, h * w)
        for block in self.transformer_blocks:
            hidden = block(hidden, context, context_bias)
        return x + self.proj_out(hidden.reshape(n, c, h, w))
