"""Temporal layer candidates: each fills a slot after a spatial block and starts as identity.

Every candidate maps (B*F, C, H, W) -> (B*F, C, H, W) as ``x + out(...)`` with a
zero-initialised output projection, so an inflated video model equals its image backbone
frame by frame until training moves it.
"""

from __future__ import annotations

from torch import nn

from mobilevid.models.temporal.frame_adaptor import FrameAdaptor
from mobilevid.models.temporal.temporal_attention import (
    DirectedTemporalAttention,
    SpatioTemporalAttention,
    TemporalAttention,
    TemporalContext,
    TemporalCrossAttention,
)
from mobilevid.models.temporal.temporal_conv import TemporalConv

CANDIDATE_CLASSES: dict[str, type[nn.Module]] = {
    "temporal_conv": TemporalConv,
    "temporal_attention": TemporalAttention,
    "spatiotemporal_attention": SpatioTemporalAttention,
    "temporal_cross_attention": TemporalCrossAttention,
    "directed_temporal_attention": DirectedTemporalAttention,
    "frame_adaptor": FrameAdaptor,
}


def build_candidate(name: str, channels: int, groups: int, head_dim: int, context_dim: int, num_frames: int) -> nn.Module:
    """Instantiate candidate ``name`` for a slot with ``channels`` channels."""
    cls = CANDIDATE_CLASSES[name]
    if cls is TemporalConv:
        return TemporalConv(channels, groups)
    if cls is FrameAdaptor:
        return FrameAdaptor(channels, groups, num_frames)
    if cls is TemporalCrossAttention:
        return TemporalCrossAttention(channels, groups, head_dim, context_dim)
    return cls(channels, groups, head_dim)


__all__ = ["CANDIDATE_CLASSES", "TemporalContext", "build_candidate"]
