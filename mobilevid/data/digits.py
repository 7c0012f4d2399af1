"""Moving handwritten digits (Moving MNIST style) from scikit-learn's bundled 8x8 digits.

After Moving MNIST (Srivastava et al., "Unsupervised Learning of Video Representations using
LSTMs", ICML 2015), with the digits of ``sklearn.datasets.load_digits()`` (UCI optical
recognition of handwritten digits: 1797 images, 8x8, values 0..16), which ship inside
scikit-learn and need no download. One white digit, upscaled smoothly, slides across a
dark frame in one of 8 directions. ``mobilevid.eval.digits_scorer`` reads the digit and the
direction back.

Two things are held out: 20% of the digit images (stratified by class; the scorer's
classifier never trains on them either) and about 1/7 of the digit x direction grid.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from skimage.transform import AffineTransform, resize, warp
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from mobilevid.data.procedural import ProceduralClipDataset

DIGITS = tuple(range(10))
DIRECTIONS: dict[str, tuple[int, int]] = {
    "left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1),
    "up-left": (-1, -1), "up-right": (1, -1), "down-left": (-1, 1), "down-right": (1, 1),
}
MOTIONS = tuple(DIRECTIONS)
SPRITE_RANGE = (0.34, 0.44)  # digit side as a fraction of the frame: ~22-28 px at 64
STRAIGHT_TRAVEL = 0.45
DIAGONAL_TRAVEL = 0.35  # per axis


@functools.cache
def digit_images() -> tuple[np.ndarray, np.ndarray]:
    """All sklearn digits as (N, 8, 8) float32 in [0, 16] and their labels (N,)."""
    bunch = load_digits()
    return bunch.images.astype(np.float32), bunch.target.astype(np.int64)


@functools.cache
def image_split() -> dict[str, np.ndarray]:
    """Indices into ``digit_images()`` for ``"train"`` and ``"heldout"`` (80/20, stratified, fixed)."""
    _, labels = digit_images()
    train, heldout = train_test_split(np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=0)
    return {"train": np.sort(train), "heldout": np.sort(heldout)}


class DigitsDataset(ProceduralClipDataset):
    """A handwritten digit moving in one of 8 directions over a dark frame.

    Items: ``{"video": (F,3,H,W) in [-1,1], "caption": "the digit 7 moving up",
    "labels": {"digit": int, "motion": str}}``. Split ``"heldout"`` uses only held-out images
    and held-out digit x direction combinations.
    """

    name = "digits"
    num_templates = 2

    def __init__(self, split: str = "train", num_frames: int = 16, size: int | tuple[int, int] = 64,
                 length: int | None = None, seed: int = 0) -> None:
        super().__init__(split, num_frames, size, length, seed)
        images, labels = digit_images()
        idx = image_split()[split]
        self._by_digit = {d: idx[labels[idx] == d] for d in DIGITS}

    @classmethod
    def all_combos(cls) -> list[tuple[int, str]]:
        return [(d, m) for d in DIGITS for m in MOTIONS]

    @classmethod
    def is_heldout(cls, combo: tuple) -> bool:
        # 12 of 80 combinations, one or two directions per digit: every digit and every
        # direction still appears in training.
        digit, motion = combo
        return (digit + 3 * MOTIONS.index(motion)) % 7 == 0

    @classmethod
    def labels_of(cls, combo: tuple) -> dict[str, Any]:
        return {"digit": int(combo[0]), "motion": combo[1]}

    @classmethod
    def caption(cls, labels: dict[str, Any], template: int = 0) -> str:
        if template == 0:
            return f"the digit {labels['digit']} moving {labels['motion']}"
        return f"a handwritten {labels['digit']} moving {labels['motion']}"

    def render(self, combo: tuple, index: int, rng: np.random.Generator) -> np.ndarray:
        digit, motion = combo
        height, width, frames = self.height, self.width, self.num_frames
        images, _ = digit_images()
        image = images[int(rng.choice(self._by_digit[digit]))] / 16.0
        side = int(round(rng.uniform(*SPRITE_RANGE) * min(height, width)))
        # Bicubic upscaling turns the 4x4-pixel blocks of the 8x8 bitmaps into smooth strokes.
        sprite = np.clip(resize(image, (side, side), order=3, mode="edge", anti_aliasing=False), 0.0, 1.0)
        dx, dy = DIRECTIONS[motion]
        travel = DIAGONAL_TRAVEL if dx and dy else STRAIGHT_TRAVEL  # of the frame, along each axis
        t = np.linspace(0.0, 1.0, frames)
        xs = self._path(rng, side, dx * travel * width, t, width)
        ys = self._path(rng, side, dy * travel * height, t, height)
        bg, fg = rng.uniform(0.0, 0.12), rng.uniform(0.85, 1.0)
        out = np.empty((frames, height, width, 3), dtype=np.float32)
        for f in range(frames):
            # Sub-pixel placement by an affine warp keeps the motion smooth.
            alpha = warp(sprite, AffineTransform(translation=(-xs[f], -ys[f])), output_shape=(height, width),
                         order=1, mode="constant", cval=0.0)
            out[f] = (bg + (fg - bg) * alpha)[..., None]
        return out

    @staticmethod
    def _path(rng: np.random.Generator, side: int, travel: float, t: np.ndarray, extent: int) -> np.ndarray:
        """Top-left positions along one axis of ``extent`` pixels, with the sprite inside the frame all along."""
        lo, hi = 0.0, float(extent - side)
        start_lo, start_hi = lo - min(0.0, travel), hi - max(0.0, travel)
        start = rng.uniform(start_lo, max(start_lo, start_hi))
        return start + travel * t


def heldout_prompts(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` prompts ``{"caption", "labels"}`` over held-out digit x direction combinations (cycling)."""
    return DigitsDataset.heldout_prompts(n, seed)
