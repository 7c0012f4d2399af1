"""Extra conditions of the video denoiser: fps, pooled text, and the NUWA-XL visual condition."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.models.embeddings import Timesteps
from torch import nn

from mobilevid.models.layers import zero_module


class FpsEmbedding(nn.Module):
    """Frame-rate conditioning (MagicVideo): sinusoidal code of fps, zero-initialised projection."""

    def __init__(self, base_channels: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = Timesteps(base_channels, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.linear = zero_module(nn.Linear(base_channels, embed_dim))

    def forward(self, fps: torch.Tensor) -> torch.Tensor:
        return self.linear(self.proj(fps.float()))


class VisualCondition(nn.Module):
    """Known-frame latents + a per-frame mask, injected at every resolution by scale and shift.

    NUWA-XL (Yin et al. 2023, sec. 3.2) conditions local diffusion on the first and last
    frames this way. Every scale/shift head is zero-initialised, so the path changes nothing
    until it is trained.
    """

    def __init__(self, latent_channels: int, block_out_channels: tuple[int, ...]) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(latent_channels + 1, block_out_channels[0], 3, padding=1)
        self.downs = nn.ModuleList(
            nn.Conv2d(block_out_channels[i - 1], block_out_channels[i], 3, stride=2, padding=1)
            for i in range(1, len(block_out_channels))
        )
        self.scale_shift = nn.ModuleList(zero_module(nn.Conv2d(ch, 2 * ch, 1)) for ch in block_out_channels)

    def forward(self, latents: torch.Tensor, mask: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """latents: (B*F, C, H, W); mask: (B*F,) of 0/1 -> per level (scale, shift)."""
        m = mask.to(latents.dtype).reshape(-1, 1, 1, 1)
        h = F.silu(self.conv_in(torch.cat([latents * m, m.expand(-1, 1, *latents.shape[2:])], dim=1)))
        out = []
        for level, head in enumerate(self.scale_shift):
            if level > 0:
                h = F.silu(self.downs[level - 1](h))
            scale, shift = head(h).chunk(2, dim=1)
            out.append((scale, shift))
        return out
