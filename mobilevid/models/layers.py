"""Export-friendly building blocks in the channels-first (N, C, 1, S) layout.

Written by hand (not diffusers' ``Attention``/``Transformer2DModel``) because the Apple
Neural Engine wants 1x1 convolutions instead of Linear layers, a (B, C, 1, S) layout and
few transposes (apple/ml-ane-transformers, apple/ml-stable-diffusion). The math and the
parameter names follow diffusers so image-UNet weights map one to one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Attention masks use -1e4, not the dtype minimum: fp16 turns finfo.min into -inf and
# softmax into NaN on Core ML. diffusers uses the same constant.
MASK_VALUE = -1e4


class LayerNormChannels(nn.Module):
    """LayerNorm over the channel axis of a (N, C, 1, S) tensor (ml-ane-transformers' LayerNormANE)."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=1, keepdim=True)
        centered = x - mean
        var = (centered * centered).mean(dim=1, keepdim=True)
        out = centered * torch.rsqrt(var + self.eps)
        return out * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class ChannelsFirstAttention(nn.Module):
    """Multi-head (or multi-query) attention on (N, C, 1, S) tensors with 1x1 conv projections.

    Multi-query attention (Shazeer 2019) shares one key/value head across all query heads,
    cutting key/value projection cost and memory traffic, as SnapGen uses on mobile.
    """

    def __init__(
        self,
        query_dim: int,
        heads: int,
        head_dim: int,
        context_dim: int | None = None,
        multi_query: bool = False,
        out_bias: bool = True,
    ) -> None:
        super().__init__()
        inner = heads * head_dim
        kv_dim = head_dim if multi_query else inner
        context_dim = context_dim or query_dim
        self.heads, self.head_dim, self.multi_query = heads, head_dim, multi_query
        self.to_q = nn.Conv2d(query_dim, inner, 1, bias=False)
        self.to_k = nn.Conv2d(context_dim, kv_dim, 1, bias=False)
        self.to_v = nn.Conv2d(context_dim, kv_dim, 1, bias=False)
        self.to_out = nn.Conv2d(inner, query_dim, 1, bias=out_bias)

    def _split(self, x: torch.Tensor, heads: int) -> torch.Tensor:
        n, _, _, s = x.shape
        return x.reshape(n, heads, self.head_dim, s).transpose(2, 3)  # (N, h, S, d)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x: (N, C, 1, S); context: (N, Cc, 1, L) or None (self-attention); bias: additive, broadcast to (N, h, S, L)."""
        context = x if context is None else context
        n, _, _, s = x.shape
        kv_heads = 1 if self.multi_query else self.heads
        q = self._split(self.to_q(x), self.heads)
        k = self._split(self.to_k(context), kv_heads)
        v = self._split(self.to_v(context), kv_heads)
        if self.multi_query:
            k = k.expand(-1, self.heads, -1, -1)
            v = v.expand(-1, self.heads, -1, -1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # (N, h, S, d)
        out = out.transpose(2, 3).reshape(n, self.heads * self.head_dim, 1, s)
        return self.to_out(out)


class GEGLUFeedForward(nn.Module):
    """GEGLU feed-forward (Shazeer 2020) as diffusers' ``FeedForward``, with 1x1 convs."""

    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        inner = dim * mult
        self.proj_in = nn.Conv2d(dim, inner * 2, 1)
        self.proj_out = nn.Conv2d(inner, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden, gate = self.proj_in(x).chunk(2, dim=1)
        return self.proj_out(hidden * F.gelu(gate))


def sinusoidal_positions(length: int, dim: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Fixed sine/cosine position codes (Vaswani et al. 2017), shape (dim, length)."""
    half = dim // 2
    freqs = torch.exp(-torch.arange(half, device=device, dtype=torch.float32) * (9.210340371976184 / max(half, 1)))
    angles = torch.arange(length, device=device, dtype=torch.float32)[None, :] * freqs[:, None]
    codes = torch.cat([angles.sin(), angles.cos()], dim=0)
    if codes.shape[0] < dim:
        codes = torch.cat([codes, codes.new_zeros(dim - codes.shape[0], length)], dim=0)
    return codes.to(dtype)


def zero_module(module: nn.Module) -> nn.Module:
    """Zero a module's parameters: a zero-initialised output keeps an inflated model equal to its source."""
    for param in module.parameters():
        nn.init.zeros_(param)
    return module
