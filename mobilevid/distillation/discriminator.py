"""The distillation discriminator: the frozen teacher's encoder with small trainable heads.

LADD (Sauer et al. 2024) and SnapGen-V (Wu et al. 2025, sec. 4) use the pretrained
denoiser's encoder (down blocks + mid block) as the discriminator's feature network, on
inputs re-noised to a sampled level, with light heads after each level. Here every level
gets a spatial head (a 2D residual block, frames folded into the batch) and, unless
disabled, a temporal head (self-attention over frames, positions folded into the batch).
Each head is a projection discriminator (Miyato & Koyama 2018): the logit is
``w . phi(x) + <phi(x), embed(c)>`` with ``c`` the pooled text embedding and the noise level.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.models.embeddings import Timesteps
from diffusers.models.resnet import ResnetBlock2D
from torch import nn

from mobilevid.models.layers import ChannelsFirstAttention, sinusoidal_positions
from mobilevid.models.video_unet import VideoUNet


class ProjectionHead(nn.Module):
    """Pooled features (N, C) + condition (N, D) -> logit (N,)."""

    def __init__(self, channels: int, cond_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(channels, 1)
        self.embed = nn.Linear(cond_dim, channels)

    def forward(self, features: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return self.linear(features).squeeze(-1) + (features * self.embed(cond)).sum(-1)


class SpatialHead(nn.Module):
    """A residual block per frame, global average pooling, projection logit; averaged over frames."""

    def __init__(self, channels: int, cond_dim: int, groups: int) -> None:
        super().__init__()
        self.block = ResnetBlock2D(in_channels=channels, out_channels=channels, temb_channels=None, groups=groups)
        self.project = ProjectionHead(channels, cond_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, num_frames: int) -> torch.Tensor:
        h = F.silu(self.block(x, None)).mean(dim=(2, 3))  # (B*F, C)
        logits = self.project(h, cond.repeat_interleave(num_frames, dim=0))
        return logits.reshape(-1, num_frames).mean(1)


class TemporalHead(nn.Module):
    """Self-attention over frames at each position, pooled over frames and positions, projection logit."""

    def __init__(self, channels: int, cond_dim: int, groups: int, head_dim: int = 32) -> None:
        super().__init__()
        head_dim = min(head_dim, channels)
        self.norm = nn.GroupNorm(groups, channels)
        self.attn = ChannelsFirstAttention(channels, channels // head_dim, head_dim)
        self.project = ProjectionHead(channels, cond_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, num_frames: int) -> torch.Tensor:
        bf, c, h, w = x.shape
        f = num_frames
        b = bf // f
        tokens = self.norm(x).reshape(b, f, c, h * w).permute(0, 3, 2, 1).reshape(b * h * w, c, 1, f)
        tokens = tokens + sinusoidal_positions(f, c, x.device, x.dtype).reshape(1, c, 1, f)
        out = tokens + self.attn(tokens)
        pooled = F.silu(out).reshape(b, h * w, c, f).mean(dim=(1, 3))  # (B, C)
        return self.project(pooled, cond)


class Discriminator(nn.Module):
    """Frozen teacher encoder + trainable heads; ``forward`` returns one logit per clip and head.

    Logits stay per head so that the hinge loss applies to each head separately (LADD): a
    summed logit would let one confident head switch off every head's gradient.
    """

    def __init__(self, teacher: VideoUNet, temporal_heads: bool = True, cond_dim: int = 256) -> None:
        super().__init__()
        self.teacher = teacher.eval().requires_grad_(False)
        cfg = teacher.config
        chans = list(cfg.block_out_channels) + [cfg.block_out_channels[-1]]  # each level, then the mid block
        text_dim = cfg.pooled_text_dim
        self.noise_proj = Timesteps(cond_dim, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.cond = nn.Sequential(nn.Linear(cond_dim + text_dim, cond_dim), nn.SiLU(), nn.Linear(cond_dim, cond_dim))
        self.spatial_heads = nn.ModuleList(SpatialHead(c, cond_dim, cfg.norm_num_groups) for c in chans)
        self.temporal_heads = (
            nn.ModuleList(TemporalHead(c, cond_dim, cfg.norm_num_groups, cfg.temporal_head_dim) for c in chans)
            if temporal_heads else None
        )

    def heads_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if not n.startswith("teacher.")]

    def train(self, mode: bool = True) -> Discriminator:
        super().train(mode)
        self.teacher.eval()  # the feature network stays frozen, in eval mode
        return self

    def forward(self, latents: torch.Tensor, timestep: torch.Tensor, text: torch.Tensor, mask: torch.Tensor,
                pooled: torch.Tensor, fps: torch.Tensor | None = None) -> torch.Tensor:
        """latents (B, F, C, H, W) re-noised to ``timestep`` (B,) on the [0, 1000] scale -> logits (B, heads)."""
        f = latents.shape[1]
        feats = self.teacher.encoder_features(latents, timestep, text, mask, pooled, fps=fps)
        cond = self.cond(torch.cat([self.noise_proj(timestep).to(latents.dtype), pooled], dim=-1))
        logits = [head(h, cond, f) for head, h in zip(self.spatial_heads, feats, strict=True)]
        if self.temporal_heads is not None:
            logits += [head(h, cond, f) for head, h in zip(self.temporal_heads, feats, strict=True)]
        return torch.stack(logits, dim=1)
