"""Frame sizes: ``size`` as one side (square) or ``(height, width)``, and fitting any clip to one.

A model trains at one height and width (``ModelConfig.height`` / ``width``, e.g. 288x512 for
``mobile-0.6b``); user clips come at any size and aspect ratio. ``fit_clip`` maps a clip to the
model's size in one of three ways, as the diffusers training scripts do for images
(``--center_crop`` / random crop after a short-side resize):

- ``"random"``: scale so the clip covers the frame, then crop at a random position
  (the same window for every frame of the clip: a crop must not add motion);
- ``"center"``: the same, cropped at the centre;
- ``"resize"``: scale each axis to the frame, ignoring the aspect ratio (nothing cut off).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from mobilevid.errors import MobilevidError

CropMode = Literal["random", "center", "resize"]
CROP_MODES: tuple[str, ...] = ("random", "center", "resize")


def frame_size(size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``(height, width)`` of ``size``: an int is a square side, a pair is (height, width)."""
    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise MobilevidError(f"size must be one side or (height, width), got {list(size)}")
        height, width = (int(s) for s in size)
    else:
        height = width = int(size)
    if height < 1 or width < 1:
        raise MobilevidError(f"frame height and width must be at least 1 pixel, got {height}x{width}")
    return height, width


def fit_clip(clip: torch.Tensor, height: int, width: int, crop: CropMode = "center",
             rng: np.random.Generator | None = None) -> torch.Tensor:
    """(F, C, h, w) float frames -> (F, C, height, width), by ``crop`` (see module docstring).

    Scaling is bilinear with antialiasing (no aliasing when a large clip is shrunk); ``rng``
    places a ``"random"`` crop (required for it).
    """
    if crop not in CROP_MODES:
        raise MobilevidError(f"unknown crop mode {crop!r}: expected one of {', '.join(CROP_MODES)}")
    src_h, src_w = clip.shape[-2:]
    if crop == "resize":
        new_h, new_w = height, width
    else:
        scale = max(height / src_h, width / src_w)  # cover the frame: the crop then cuts only one axis
        new_h, new_w = max(height, round(src_h * scale)), max(width, round(src_w * scale))
    if (new_h, new_w) != (src_h, src_w):
        clip = F.interpolate(clip, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)
    if crop == "random":
        if rng is None:
            raise ValueError("fit_clip(crop='random') needs an rng")
        top, left = int(rng.integers(new_h - height + 1)), int(rng.integers(new_w - width + 1))
    else:
        top, left = (new_h - height) // 2, (new_w - width) // 2
    return clip[:, :, top : top + height, left : left + width]
