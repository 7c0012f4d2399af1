"""The config a pruned component is rebuilt from: every width shrunk by whole GroupNorm groups, heads whole.

Structured pruning here is config-first: the pruned widths are chosen so that the model's own
config expresses them and ``from_pretrained`` rebuilds the same shapes. Every GroupNorm keeps
its channels per group and loses whole groups (``G -> round(G * (1 - ratio))``), so a norm that
sees a single producer normalises the channels it keeps exactly as before; spatial attention
loses whole heads and keeps its head width (``attention_head_dim``). A ratio that leaves no
valid model is a one-line error before any work.
"""

from __future__ import annotations

import dataclasses

from mobilevid.errors import MobilevidError
from mobilevid.models.unet_config import VideoUNetConfig
from mobilevid.models.vae import VAEConfig

COMPONENTS = ("denoiser", "vae_decoder")


def check_ratio(ratio: float) -> None:
    if not 0.0 < ratio < 1.0:
        raise MobilevidError(f"--ratio must be in (0, 1) (the share of channels removed), got {ratio}")


def kept_groups(groups: int, ratio: float, what: str) -> int:
    """Norm groups left after removing ``ratio`` of them; one-line error when none or all would remain."""
    check_ratio(ratio)
    kept = round(groups * (1.0 - ratio))
    if kept < 1:
        raise MobilevidError(f"ratio {ratio} leaves no GroupNorm group of the {what}'s {groups} "
                             f"(largest valid ratio {1 - 1 / groups:.4g})")
    if kept == groups:
        raise MobilevidError(f"ratio {ratio} removes no GroupNorm group of the {what}'s {groups} "
                             f"(channels go in whole groups: smallest valid ratio {1 / groups:.4g})")
    return kept


def pruned_denoiser_config(config: VideoUNetConfig, ratio: float) -> VideoUNetConfig:
    """``config`` with every level's width scaled by the kept share of norm groups and whole heads removed."""
    if config.multi_query:
        raise MobilevidError("pruning a multi-query denoiser is not supported (its shared key/value head "
                             "would need its own rule)")
    groups = config.norm_num_groups
    kept = kept_groups(groups, ratio, "denoiser")
    chans = tuple(c // groups * kept for c in config.block_out_channels)
    # Heads go whole (rounded, at least one) and keep their width.
    heads = tuple(max(1, round(h * kept / groups)) for h in config.attention_heads)
    head_dims = tuple(config.head_dim(level) for level in range(len(chans)))
    return dataclasses.replace(
        config,
        block_out_channels=chans,
        norm_num_groups=kept,
        attention_heads=heads,
        attention_head_dim=head_dims,
        time_proj_dim=config.time_code_dim,
    )


def pruned_vae_config(config: VAEConfig, ratio: float) -> VAEConfig:
    """``config`` with a decoder narrowed by whole norm groups; the encoder (and so the latents) is unchanged."""
    groups = config.decoder_norm_num_groups or config.norm_num_groups
    kept = kept_groups(groups, ratio, "VAE decoder")
    chans = config.decoder_block_out_channels or config.block_out_channels
    for c in chans:
        if c % groups:
            raise MobilevidError(f"decoder width {c} is not a whole number of its {groups} norm groups")
    return dataclasses.replace(
        config,
        decoder_block_out_channels=tuple(c // groups * kept for c in chans),
        decoder_norm_num_groups=kept,
    )
