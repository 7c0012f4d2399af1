"""Camera pans and zooms over the photos bundled with scikit-image.

Real image content with a known global camera motion: a virtual camera window slides
(pan) or shrinks/grows (zoom) over one of scikit-image's bundled photos (``skimage.data``,
no download), and each frame is the window resampled to the frame size by an affine warp,
so the motion is smooth and sub-pixel. ``mobilevid.eval.photos_scorer`` reads the motion
back by global motion estimation.

Sign convention (shared with the scorer): motions name what the CAMERA does.
``pan-left`` moves the camera window left over the photo, so the content in the frame moves
RIGHT; ``pan-up`` moves the window up, so the content moves DOWN; ``zoom-in`` shrinks the
window, so the content grows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from skimage import data as skdata
from skimage.color import gray2rgb
from skimage.transform import AffineTransform, rescale, warp

from mobilevid.data.frame_size import frame_size
from mobilevid.data.procedural import ProceduralClipDataset

# name -> (loader, noun used in captions). Only photos that ship with scikit-image itself
# (some skimage.data entries need the optional pooch download: none of those here), and only
# ones with texture everywhere, so global motion is well defined (no horse silhouette).
SUBJECTS: dict[str, tuple[Callable[[], np.ndarray], str]] = {
    "astronaut": (skdata.astronaut, "the astronaut"),
    "cameraman": (skdata.camera, "the cameraman"),
    "cat": (skdata.chelsea, "the cat"),
    "coffee": (skdata.coffee, "the coffee cup"),
    "rocket": (skdata.rocket, "the rocket"),
    "coins": (skdata.coins, "the coins"),
    "moon": (skdata.moon, "the moon surface"),
    "galaxies": (skdata.hubble_deep_field, "the galaxies"),
    "cells": (skdata.immunohistochemistry, "the stained cells"),
}
SUBJECT_NAMES = tuple(SUBJECTS)
# Content displacement of each pan in frame coordinates (x right, y down): the opposite of
# the camera's own motion.
PAN_CONTENT_DIRECTION: dict[str, tuple[int, int]] = {
    "pan-left": (1, 0), "pan-right": (-1, 0), "pan-up": (0, 1), "pan-down": (0, -1),
}
MOTIONS = (*PAN_CONTENT_DIRECTION, "zoom-in", "zoom-out")

# Windows have the frame's aspect ratio; their sizes are in frames (1.0 = the frame's own size).
PRESCALE = 2.5  # photos are pre-shrunk so their short side is 2.5 frame long sides: windows downsample <= 2.2x
PAN_WINDOW = (1.0, 1.4)  # window size in frames; a pan travels half a window (half the frame)
ZOOM_WINDOW = (1.8, 2.2)  # largest window size; a zoom changes the window's sides by 2x
ZOOM_FACTOR = 2.0


@functools.cache
def photo(subject: str, size: int) -> np.ndarray:
    """The subject's photo as float32 RGB in [0, 1], short side ``PRESCALE * size`` (anti-aliased)."""
    image = np.asarray(SUBJECTS[subject][0]())
    if image.ndim == 2:
        image = gray2rgb(image)
    image = image[..., :3].astype(np.float32) / 255.0
    factor = PRESCALE * size / min(image.shape[:2])
    return rescale(image, factor, channel_axis=-1, anti_aliasing=True).astype(np.float32)


def crop_window(image: np.ndarray, x0: float, y0: float, side: float, size: int | tuple[int, int]) -> np.ndarray:
    """Resample a window of ``image`` with the frame's aspect ratio to the frame ``size``.

    ``size`` is one side (square) or (height, width); the window's top-left is (x0, y0) and
    ``side`` is its extent, in image pixels, along the frame's shorter axis.
    """
    height, width = frame_size(size)
    scale = side / min(height, width)
    # Output pixel centre j samples input position x0 + (j + 0.5) * scale - 0.5.
    tform = AffineTransform(scale=scale, translation=(x0 + 0.5 * scale - 0.5, y0 + 0.5 * scale - 0.5))
    return warp(image, tform, output_shape=(height, width), order=1, mode="edge").astype(np.float32)


class PhotosDataset(ProceduralClipDataset):
    """A camera panning (left/right/up/down) or zooming (in/out) over a bundled photo.

    Items: ``{"video": (F,3,H,W) in [-1,1], "caption": "zoom into the cat",
    "labels": {"subject": str, "motion": str}}``; see the module docstring for the sign convention.
    """

    name = "photos"
    num_templates = 2

    @classmethod
    def all_combos(cls) -> list[tuple[str, str]]:
        return [(s, m) for s in SUBJECT_NAMES for m in MOTIONS]

    @classmethod
    def is_heldout(cls, combo: tuple) -> bool:
        # About 1/7 of subject x motion, at most one motion per subject, every motion held out somewhere.
        subject, motion = combo
        return (SUBJECT_NAMES.index(subject) + 2 * MOTIONS.index(motion)) % 7 == 0

    @classmethod
    def labels_of(cls, combo: tuple) -> dict[str, Any]:
        return {"subject": combo[0], "motion": combo[1]}

    @classmethod
    def caption(cls, labels: dict[str, Any], template: int = 0) -> str:
        noun, motion = SUBJECTS[labels["subject"]][1], labels["motion"]
        if motion.startswith("pan-"):
            direction = motion.removeprefix("pan-")
            return f"pan {direction} across {noun}" if template == 0 else f"the camera pans {direction} over {noun}"
        if motion == "zoom-in":
            return f"zoom into {noun}" if template == 0 else f"the camera zooms in on {noun}"
        return f"zoom out from {noun}" if template == 0 else f"the camera zooms out from {noun}"

    def render(self, combo: tuple, index: int, rng: np.random.Generator) -> np.ndarray:
        subject, motion = combo
        frame = (self.height, self.width)
        short, frames = min(frame), self.num_frames
        # Window extent along x and y per unit of its extent along the frame's shorter axis.
        ax, ay = self.width / short, self.height / short
        image = photo(subject, max(frame))
        height, width = image.shape[:2]
        t = np.linspace(0.0, 1.0, frames)
        if motion in PAN_CONTENT_DIRECTION:
            side = np.full(frames, rng.uniform(*PAN_WINDOW) * short)
            cdx, cdy = PAN_CONTENT_DIRECTION[motion]
            # The window moves against the content, by half its own extent along the pan's axis.
            xs = self._path(rng, width, side[0] * ax, -cdx * 0.5 * side[0] * ax, t)
            ys = self._path(rng, height, side[0] * ay, -cdy * 0.5 * side[0] * ay, t)
        else:
            big = rng.uniform(*ZOOM_WINDOW) * short
            # Geometric interpolation: the same zoom ratio between every pair of frames.
            ratio = ZOOM_FACTOR ** (-t if motion == "zoom-in" else t - 1.0)
            side = big * ratio
            cx = rng.uniform(big * ax / 2, width - big * ax / 2)
            cy = rng.uniform(big * ay / 2, height - big * ay / 2)
            xs, ys = cx - side * ax / 2, cy - side * ay / 2
        return np.stack([crop_window(image, xs[f], ys[f], side[f], frame) for f in range(frames)])

    @staticmethod
    def _path(rng: np.random.Generator, extent: int, side: float, travel: float, t: np.ndarray) -> np.ndarray:
        """Window top-left positions along one axis, inside the photo all along."""
        lo, hi = 0.0, extent - side
        start_lo, start_hi = lo - min(0.0, travel), hi - max(0.0, travel)
        return rng.uniform(start_lo, max(start_lo, start_hi)) + travel * t


def heldout_prompts(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` prompts ``{"caption", "labels"}`` over held-out subject x motion combinations (cycling)."""
    return PhotosDataset.heldout_prompts(n, seed)
