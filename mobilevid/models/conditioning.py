"""Extra conditions of the video denoiser: fps, per-frame text, and the NUWA-XL visual condition."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.models.embeddings import Timesteps
from torch import nn

from mobilevid.models.layers import MASK_VALUE, sinusoidal_positions, zero_module


class FpsEmbedding(nn.Module):
    """Frame-rate conditioning (MagicVideo): sinusoidal code of fps, zero-initialised projection."""

    def __init__(self, base_channels: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = Timesteps(base_channels, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.linear = zero_module(nn.Linear(base_channels, embed_dim))

    def forward(self, fps: torch.Tensor) -> torch.Tensor:
        return self.linear(self.proj(fps.float()))


class PositionEmbedding(nn.Module):
    """Where each latent pixel is: x and y in [-1, 1], projected and added to the first features (CoordConv).

    Convolutions and the backbone's attention carry no absolute position, so the clean clip the
    model must predict at high noise for "a circle moving right" (a blob that starts on the left
    and ends on the right, as clips must to stay in frame) can only be drawn from zero-padding
    cues. Liu et al. 2018 (CoordConv) add coordinate channels for this; DiT and U-ViT add
    position embeddings. Zero-initialised: an existing model is unchanged until it trains.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.proj = zero_module(nn.Conv2d(2, channels, 1))

    def forward(self, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
        """(1, channels, height, width) to add to every frame's features."""
        # arange, not linspace: the same numbers, and an op every export target already lowers
        # (the frame codes use it).
        ys = torch.arange(height, device=like.device, dtype=like.dtype) * (2.0 / max(height - 1, 1)) - 1.0
        xs = torch.arange(width, device=like.device, dtype=like.dtype) * (2.0 / max(width - 1, 1)) - 1.0
        grid = torch.stack([xs.reshape(1, width).expand(height, width), ys.reshape(height, 1).expand(height, width)])
        return self.proj(grid.unsqueeze(0))


def pool_per_frame(module: nn.Module, states: torch.Tensor, mask: torch.Tensor | None,
                   num_frames: int) -> torch.Tensor:
    """Each frame's query (from its sinusoidal code) attends over the token states.

    ``module`` holds ``query`` (code -> d), ``key`` and ``value`` (text -> d), ``heads`` and
    ``code_dim``. states (B, L, D), mask (B, L) 1 = real token -> (B, F, d + code): the pooled
    text beside the frame code. Per-frame text, states (B, F, L, D) with mask (B, F, L): frame f
    pools its own prompt. Hand-written attention: a few (F x L) matmuls every export target lowers.
    """
    d = module.query.out_features
    h, dh = module.heads, d // module.heads
    codes = sinusoidal_positions(num_frames, module.code_dim, states.device, states.dtype).t()  # (F, code)
    q = module.query(codes).reshape(num_frames, h, dh).transpose(0, 1)  # (h, F, dh)
    if states.dim() == 4:  # (B, F, L, D): each frame pools its own prompt (long-video prompt schedules)
        b, _, length, _ = states.shape
        k = module.key(states).reshape(b, num_frames, length, h, dh)
        v = module.value(states).reshape(b, num_frames, length, h, dh)
        scores = torch.einsum("hfd,bflhd->bhfl", q, k) * dh**-0.5
        if mask is not None:
            scores = scores + ((1 - mask.to(scores.dtype)) * MASK_VALUE).reshape(b, num_frames, length)[:, None]
        pooled = torch.einsum("bhfl,bflhd->bfhd", scores.softmax(dim=-1), v).reshape(b, num_frames, d)
        return torch.cat([pooled, codes.unsqueeze(0).expand(b, -1, -1)], dim=-1)
    b, length, _ = states.shape
    k = module.key(states).reshape(b, length, h, dh).permute(0, 2, 3, 1)  # (B, h, dh, L)
    v = module.value(states).reshape(b, length, h, dh).transpose(1, 2)  # (B, h, L, dh)
    scores = torch.matmul(q.unsqueeze(0), k) * dh**-0.5  # (B, h, F, L)
    if mask is not None:
        scores = scores + ((1 - mask.to(scores.dtype)) * MASK_VALUE).reshape(b, 1, 1, length)
    pooled = torch.matmul(scores.softmax(dim=-1), v).transpose(1, 2).reshape(b, num_frames, d)
    return torch.cat([pooled, codes.unsqueeze(0).expand(b, -1, -1)], dim=-1)


class FrameTextEmbedding(nn.Module):
    """Each frame pools the prompt's tokens with its own query; the result joins that frame's time embedding.

    Spatial layers see the text but not the frame index, temporal layers the frame index but
    not the text: measured on the tiny teacher, nothing tied "moving left" to where the object
    is in frame k, and the direction followed the noise seed. all-MiniLM-L6-v2's pooled vector
    barely separates directions (cosine 0.965 between "... moving left" and "... moving right",
    0.76 between red and blue), so each frame attends over the token states instead. Adding a
    condition to the ResNets' time embedding is how SVD adds its motion conditions (Blattmann
    et al. 2023). The output layer is zero-initialised: an existing model is unchanged until it
    trains. Hand-written attention: a few (F x L) matmuls that every export target lowers.
    """

    def __init__(self, text_dim: int, embed_dim: int, code_dim: int = 64, heads: int = 4) -> None:
        super().__init__()
        if text_dim % heads:
            raise ValueError(f"text dim {text_dim} not divisible by {heads} heads")
        self.heads, self.code_dim = heads, code_dim
        self.query = nn.Linear(code_dim, text_dim)
        self.key = nn.Linear(text_dim, text_dim)
        self.value = nn.Linear(text_dim, text_dim)
        self.mlp = nn.Sequential(nn.Linear(text_dim + code_dim, embed_dim), nn.SiLU(),
                                 zero_module(nn.Linear(embed_dim, embed_dim)))

    def forward(self, states: torch.Tensor, mask: torch.Tensor | None, num_frames: int) -> torch.Tensor:
        """states (B, L, D), mask (B, L) 1 = real token -> (B, F, embed_dim)."""
        return self.mlp(pool_per_frame(self, states, mask, num_frames))


class FrameLayoutEmbedding(nn.Module):
    """Each frame pools the prompt's tokens with its own query and paints a coarse map onto the first features.

    Why: with ``FrameTextEmbedding`` (a per-frame, spatially uniform shift) and coordinate
    channels, the tiny teacher still ignored the direction word. In a positive control (2 pairs
    of clips differing only in direction, memorised at t ~ 1), replacing
    MiniLM's states by learned word embeddings did not help (swap gain +0.9% after 100 steps),
    while this map did (+3685%): the backbone could not turn "frame k of a clip moving right"
    into "the object sits at column x_k", and a per-frame spatial prior lets it (on the full
    data, the denoising loss alone does not teach it: see mobilevid/training/layout_stage.py). It is the
    text-to-layout route of layout-guided video models (e.g. LVD, Lian et al. 2023), learned end
    to end here. The map (``channels`` x grid x grid, few channels) is repeated up to the latent
    size and mixed into the features by a zero-initialised 1x1 conv: an existing model is
    unchanged until it trains. Hand-written attention, as in ``FrameTextEmbedding``.
    """

    def __init__(self, text_dim: int, out_channels: int, grid: int = 8, map_channels: int = 8,
                 attn_dim: int = 128, code_dim: int = 64, hidden: int = 128, heads: int = 4) -> None:
        super().__init__()
        self.heads, self.code_dim, self.grid, self.map_channels = heads, code_dim, grid, map_channels
        self.query = nn.Linear(code_dim, attn_dim)
        self.key = nn.Linear(text_dim, attn_dim)
        self.value = nn.Linear(text_dim, attn_dim)
        self.mlp = nn.Sequential(nn.Linear(attn_dim + code_dim, hidden), nn.SiLU(),
                                 nn.Linear(hidden, map_channels * grid * grid))
        self.proj = zero_module(nn.Conv2d(map_channels, out_channels, 1))

    def forward(self, states: torch.Tensor, mask: torch.Tensor | None, num_frames: int, height: int,
                width: int) -> torch.Tensor:
        """states (B, L, D), mask (B, L) -> (B*F, out_channels, height, width) to add to the first features."""
        b, g = states.shape[0], self.grid
        cells = self.mlp(pool_per_frame(self, states, mask, num_frames))
        # Nearest upsampling by expand + reshape, rows then columns: the same numbers as
        # interpolate(mode="nearest"), in ops every export target lowers and at rank <= 4 (Core ML takes <= 5).
        n, ry, rx = b * num_frames * self.map_channels, height // g, width // g
        rows = cells.reshape(n, g, 1, g).expand(-1, -1, ry, -1).reshape(n, height, g, 1)
        full = rows.expand(-1, -1, -1, rx).reshape(b * num_frames, self.map_channels, height, width)
        return self.proj(full)


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
