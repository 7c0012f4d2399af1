"""Temporal flickering, as VBench computes it.

VBench (Huang et al., CVPR 2024), ``vbench/temporal_flickering.py``: read the video's frames
as 8-bit images, take the mean absolute difference (MAE over pixels and channels) of every
pair of consecutive frames, average over the pairs, and report ``(255 - mean_mae) / 255``.
1.0 means no change at all between frames; higher is less flicker. VBench applies it to
static-scene prompts; on moving content it also counts real motion, so compare models on
the same prompts only. Frames are quantised to uint8 first, as VBench sees decoded frames.
"""

from __future__ import annotations

import numpy as np
import torch

from mobilevid.eval.frames import to_uint8_frames


def mean_abs_frame_difference(video: torch.Tensor | np.ndarray) -> float:
    """Mean over consecutive frame pairs of the mean absolute difference, on 0..255 frames."""
    frames = to_uint8_frames(video).astype(np.float32)
    if len(frames) < 2:
        raise ValueError(f"temporal flicker needs at least 2 frames, got {len(frames)}")
    return float(np.abs(frames[1:] - frames[:-1]).mean(axis=(1, 2, 3)).mean())


def temporal_flickering(video: torch.Tensor | np.ndarray) -> float:
    """VBench's temporal_flickering score of one (F, 3, H, W) clip in [-1, 1]: in [0, 1], higher is better."""
    return (255.0 - mean_abs_frame_difference(video)) / 255.0


def mean_temporal_flickering(videos: list[torch.Tensor] | torch.Tensor) -> float:
    """The score averaged over clips, as VBench reports a dimension."""
    return float(np.mean([temporal_flickering(v) for v in videos]))
