"""The video denoiser's config: a typed dataclass saved as ``config.json`` beside its weights."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class VideoUNetConfig:
    """Spatial backbone (diffusers UNet2DConditionModel layout) + temporal slots + conditioning.

    Level i of the UNet works at ``latent_size / 2**i``; transformer blocks sit only where
    ``attention_levels[i]`` is true (SnapGen: attention only at low resolution, where it is cheap).
    """

    in_channels: int = 4
    out_channels: int = 4
    latent_height: int = 16  # latents the model is exported for (static shapes)
    latent_width: int = 16
    num_frames: int = 16  # frames per clip; the frame-wise adaptor holds one scale/shift per frame
    block_out_channels: tuple[int, ...] = (64, 128, 128)
    layers_per_block: int = 1
    attention_levels: tuple[bool, ...] = (False, True, True)
    attention_heads: tuple[int, ...] = (1, 2, 2)  # heads per level (diffusers' 'attention_head_dim' meaning)
    # Channels per spatial attention head, per level; None = channels // heads. Structured pruning
    # removes heads whole, so a pruned model's heads * head_dim can differ from its channels.
    attention_head_dim: tuple[int, ...] | None = None
    transformer_layers: int = 1
    mid_block_attention: bool = True
    multi_query: bool = False  # one shared key/value head: less memory traffic on mobile
    cross_attention_dim: int = 384  # all-MiniLM-L6-v2 token states
    pooled_text_dim: int = 384
    norm_num_groups: int = 32
    norm_eps: float = 1e-5
    flip_sin_to_cos: bool = True
    freq_shift: int = 0
    mid_block_scale_factor: float = 1.0
    fps_conditioning: bool = True
    visual_condition: bool = True  # NUWA-XL-style known-frame latents + mask
    frame_text_conditioning: bool = False  # per-frame text summary in the time embedding (conditioning.py)
    position_embedding: bool = False  # x, y coordinates added to the first features (CoordConv; conditioning.py)
    frame_layout_conditioning: bool = False  # per-frame text-driven coarse map added to the first features
    frame_layout_grid: int = 8  # that map's cells per side (upsampled to the latent size)
    temporal_head_dim: int = 32
    # Width of the sinusoidal timestep and fps codes; None = block_out_channels[0]. Pruning
    # narrows the first level but keeps the codes (a parameter-free function of this width).
    time_proj_dim: int | None = None
    max_3d_tokens: int = 64  # 3D attention only where a frame has at most this many tokens (low resolution)
    # Training keeps the image backbone fixed and trains only the modules an image UNet lacks
    # (VideoUNet.new_after_inflation): set by `mobilevid inflate --freeze-backbone`, read by `mobilevid train`.
    freeze_backbone: bool = False
    arch: dict[str, Any] = field(default_factory=lambda: {"slots": {}})

    def __post_init__(self) -> None:
        n = len(self.block_out_channels)
        if len(self.attention_levels) != n or len(self.attention_heads) != n:
            raise ValueError(
                f"attention_levels and attention_heads need {n} entries (one per block_out_channels entry)"
            )
        for ch in self.block_out_channels:
            if ch % self.norm_num_groups:
                raise ValueError(f"channels {ch} not divisible by norm_num_groups {self.norm_num_groups}")
        if self.attention_head_dim is not None and len(self.attention_head_dim) != n:
            raise ValueError(f"attention_head_dim needs {n} entries (one per block_out_channels entry)")
        for ch, heads, on in zip(self.block_out_channels, self.attention_heads, self.attention_levels, strict=True):
            if on and self.attention_head_dim is None and ch % heads:
                raise ValueError(f"channels {ch} not divisible by {heads} attention heads")
        if self.frame_layout_conditioning and (self.latent_height % self.frame_layout_grid
                                               or self.latent_width % self.frame_layout_grid):
            raise ValueError(f"latent size must be divisible by frame_layout_grid {self.frame_layout_grid}")
        factor = 2 ** (n - 1)
        if self.latent_height % factor or self.latent_width % factor:
            raise ValueError(f"latent size must be divisible by {factor} for {n} levels")

    @property
    def time_embed_dim(self) -> int:
        return self.block_out_channels[0] * 4

    @property
    def time_code_dim(self) -> int:
        return self.time_proj_dim or self.block_out_channels[0]

    def head_dim(self, level: int) -> int:
        """Channels per spatial attention head at ``level``."""
        if self.attention_head_dim is not None:
            return self.attention_head_dim[level]
        return self.block_out_channels[level] // self.attention_heads[level]
