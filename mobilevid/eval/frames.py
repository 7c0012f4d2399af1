"""The one input convention of every scorer: a clip as (F, 3, H, W) floats in [-1, 1].

That is what the data sets yield and what the samplers decode to, so generated and real
clips go through the same code. NumPy arrays of the same layout are accepted too.
"""

from __future__ import annotations

import numpy as np
import torch


def to_numpy_frames(video: torch.Tensor | np.ndarray) -> np.ndarray:
    """(F, 3, H, W) in [-1, 1] -> float32 (F, H, W, 3) in [0, 1], clipped."""
    array = video.detach().cpu().float().numpy() if isinstance(video, torch.Tensor) else np.asarray(video, np.float32)
    if array.ndim != 4 or array.shape[1] != 3:
        raise ValueError(f"expected a clip of shape (F, 3, H, W) in [-1, 1], got shape {tuple(array.shape)}")
    return np.clip((array.transpose(0, 2, 3, 1) + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)


def to_uint8_frames(video: torch.Tensor | np.ndarray) -> np.ndarray:
    """(F, 3, H, W) in [-1, 1] -> uint8 (F, H, W, 3), rounded as a video encoder would store it."""
    return np.round(to_numpy_frames(video) * 255.0).astype(np.uint8)


def accuracy(predictions: list[dict], labels: list[dict]) -> dict[str, float]:
    """Per-key fraction of predictions equal to the labels, for the keys both share."""
    if len(predictions) != len(labels) or not labels:
        raise ValueError(f"need as many predictions as labels (>0), got {len(predictions)} and {len(labels)}")
    keys = [k for k in labels[0] if k in predictions[0]]
    return {k: float(np.mean([p[k] == y[k] for p, y in zip(predictions, labels, strict=True)])) for k in keys}
