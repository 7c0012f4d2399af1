"""Procedural clips of one coloured shape moving over a dark background, with exact labels.

A controlled "bouncing shapes" style benchmark (in the spirit of Moving MNIST, Srivastava et
al. 2015, and the synthetic sets used to probe compositional text-to-video generation):
every caption states a colour, a shape and a motion, and ``mobilevid.eval.shapes_scorer``
reads all three back from generated frames. About 1/7 of the colour x shape x motion grid is
held out of training, so held-out prompts test composition, not memorisation.

Try it::

    from mobilevid.data import ShapesDataset
    item = ShapesDataset()[0]   # {"video": (16, 3, 64, 64) in [-1, 1], "caption": ..., "labels": ...}
"""

from __future__ import annotations

from typing import Any

import numpy as np
from skimage.draw import disk, polygon
from skimage.filters import gaussian
from skimage.transform import downscale_local_mean

from mobilevid.data.frame_size import frame_size
from mobilevid.data.procedural import ProceduralClipDataset

# RGB in [0, 1]; pairwise distances >= 0.5 so the nearest-palette colour stays unambiguous
# after blur or a colour cast in generated frames, and each is far from the dark backgrounds.
PALETTE: dict[str, tuple[float, float, float]] = {
    "red": (0.90, 0.10, 0.10),
    "green": (0.10, 0.80, 0.15),
    "blue": (0.15, 0.30, 1.00),
    "yellow": (0.95, 0.90, 0.10),
    "white": (0.95, 0.95, 0.95),
    "purple": (0.65, 0.15, 0.90),
}
COLORS = tuple(PALETTE)
SHAPES = ("circle", "square", "triangle")
# Unit direction in image coordinates (x right, y DOWN): "up" is negative y.
DIRECTIONS: dict[str, tuple[int, int]] = {
    "left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1),
    "up-left": (-1, -1), "up-right": (1, -1), "down-left": (-1, 1), "down-right": (1, 1),
}
MOTIONS = (*DIRECTIONS, "grow", "shrink", "still")

# Geometry as fractions of the frame: a straight move covers half the frame along its axis, a
# diagonal 0.4 of it per axis (0.57 along the diagonal of a square frame): large enough to read
# back without doubt. Sizes are fractions of the shorter side, so a non-square frame keeps them.
STRAIGHT_TRAVEL = 0.5
DIAGONAL_TRAVEL = 0.4
RADIUS_RANGE = (0.11, 0.15)
GROW_SCALES = (0.55, 1.45)  # linear size at the first and last frame of "grow" (area x7)
# A triangle of side 2.68 r has about the area of a circle of radius r.
_TRIANGLE_SIDE = 2.68
_SUPERSAMPLE = 4  # draw at 4x and average: anti-aliased edges, smooth sub-pixel motion


def _motion_phrase(motion: str) -> str:
    if motion in DIRECTIONS:
        return f"moving {motion}"
    return {"grow": "growing", "shrink": "shrinking", "still": "staying still"}[motion]


def half_extent(shape: str, radius: float) -> tuple[float, float]:
    """Half width and half height of a shape's bounding box."""
    if shape == "triangle":
        side = _TRIANGLE_SIDE * radius
        return side / 2, side * np.sqrt(3) / 4
    return radius, radius


def shape_mask(shape: str, cx: float, cy: float, radius: float, size: int | tuple[int, int]) -> np.ndarray:
    """Anti-aliased coverage (height, width) in [0, 1] of a shape centred on (cx, cy) (pixel units).

    ``size`` is one side (square) or (height, width).
    """
    ss = _SUPERSAMPLE
    height, width = frame_size(size)
    hw, hh = half_extent(shape, radius)
    # Supersample only the shape's bounding box (plus a pixel): 10x cheaper than the full frame.
    x0 = int(np.clip(np.floor(cx - hw) - 1, 0, width))
    x1 = int(np.clip(np.ceil(cx + hw) + 1, 0, width))
    y0 = int(np.clip(np.floor(cy - hh) - 1, 0, height))
    y1 = int(np.clip(np.ceil(cy + hh) + 1, 0, height))
    out = np.zeros((height, width), dtype=np.float32)
    if x1 <= x0 or y1 <= y0:
        return out
    canvas = np.zeros(((y1 - y0) * ss, (x1 - x0) * ss), dtype=np.float32)
    # Continuous coordinate u maps to supersampled pixel index u * ss - 0.5 (pixel centres).
    r0, c0 = (cy - y0) * ss - 0.5, (cx - x0) * ss - 0.5
    if shape == "circle":
        rr, cc = disk((r0, c0), radius * ss, shape=canvas.shape)
    else:
        hw, hh = hw * ss, hh * ss
        if shape == "square":
            rows = [r0 - hh, r0 - hh, r0 + hh, r0 + hh]
            cols = [c0 - hw, c0 + hw, c0 + hw, c0 - hw]
        else:  # upright equilateral triangle, centred on its bounding box
            rows = [r0 - hh, r0 + hh, r0 + hh]
            cols = [c0, c0 + hw, c0 - hw]
        rr, cc = polygon(rows, cols, shape=canvas.shape)
    canvas[rr, cc] = 1.0
    out[y0:y1, x0:x1] = downscale_local_mean(canvas, (ss, ss))
    return out


def background(size: int | tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A dark background (height, width, 3): plain, low-contrast smooth noise, or faint stripes.

    Texture is luminance only and at most ~0.05 in amplitude, so it never changes the hue.
    ``size`` is one side (square) or (height, width); texture scales follow the shorter side.
    """
    height, width = frame_size(size)
    side = min(height, width)
    level = rng.uniform(0.04, 0.2)
    base = np.clip(level + rng.uniform(-0.03, 0.03, size=3), 0.0, 1.0)
    kind = rng.choice(["plain", "noise", "stripes"])
    if kind == "plain":
        texture = np.zeros((height, width))
    elif kind == "noise":
        texture = gaussian(rng.standard_normal((height, width)), sigma=side / 16)
        texture = 0.05 * texture / (np.abs(texture).max() + 1e-8)
    else:
        y, x = np.mgrid[0:height, 0:width]
        theta, freq = rng.uniform(0, np.pi), rng.uniform(2, 6) / side
        texture = 0.04 * np.sin(2 * np.pi * freq * (x * np.cos(theta) + y * np.sin(theta)) + rng.uniform(0, 2 * np.pi))
    return np.clip(base[None, None, :] + texture[..., None], 0.0, 1.0).astype(np.float32)


class ShapesDataset(ProceduralClipDataset):
    """One coloured circle/square/triangle moving in 8 directions, growing, shrinking or still.

    Items: ``{"video": (F,3,H,W) in [-1,1], "caption": str, "labels": {"color", "shape", "motion"}}``.
    Split ``"heldout"`` renders only the held-out colour x shape x motion combinations.
    """

    name = "shapes"
    num_templates = 2

    @classmethod
    def all_combos(cls) -> list[tuple[str, str, str]]:
        return [(c, s, m) for c in COLORS for s in SHAPES for m in MOTIONS]

    @classmethod
    def is_heldout(cls, combo: tuple) -> bool:
        # A fixed Latin-square-like rule: 1/7 of the grid, spread evenly over every colour,
        # shape and motion, so each of them alone still appears in training many times.
        c, s, m = combo
        return (COLORS.index(c) + 2 * SHAPES.index(s) + 3 * MOTIONS.index(m)) % 7 == 0

    @classmethod
    def labels_of(cls, combo: tuple) -> dict[str, Any]:
        c, s, m = combo
        return {"color": c, "shape": s, "motion": m}

    @classmethod
    def caption(cls, labels: dict[str, Any], template: int = 0) -> str:
        text = f"a {labels['color']} {labels['shape']} {_motion_phrase(labels['motion'])}"
        return text if template == 0 else f"{text} on a dark background"

    def render(self, combo: tuple, index: int, rng: np.random.Generator) -> np.ndarray:
        color, shape, motion = combo
        height, width, frames = self.height, self.width, self.num_frames
        radius = rng.uniform(*RADIUS_RANGE) * min(height, width)
        t = np.linspace(0.0, 1.0, frames)
        if motion in ("grow", "shrink"):
            lo, hi = GROW_SCALES
            scale = lo + (hi - lo) * (t if motion == "grow" else 1.0 - t)
        else:
            scale = np.ones(frames)
        hw, hh = half_extent(shape, radius * scale.max())
        dx, dy = DIRECTIONS.get(motion, (0, 0))
        travel = DIAGONAL_TRAVEL if dx and dy else STRAIGHT_TRAVEL
        xs = self._path(rng, hw, dx * travel * width, t, width)
        ys = self._path(rng, hh, dy * travel * height, t, height)
        rgb = np.clip(np.array(PALETTE[color]) + rng.uniform(-0.05, 0.05, size=3), 0.0, 1.0).astype(np.float32)
        bg = background((height, width), rng)
        out = np.empty((frames, height, width, 3), dtype=np.float32)
        for f in range(frames):
            alpha = shape_mask(shape, xs[f], ys[f], radius * scale[f], (height, width))[..., None]
            out[f] = bg * (1.0 - alpha) + rgb * alpha
        return out

    @staticmethod
    def _path(rng: np.random.Generator, half: float, travel: float, t: np.ndarray, extent: int) -> np.ndarray:
        """Positions along one axis of ``extent`` pixels: a random start such that the whole shape stays in frame."""
        lo, hi = half + 1.0, extent - half - 1.0
        start_lo, start_hi = lo - min(0.0, travel), hi - max(0.0, travel)
        start = rng.uniform(start_lo, max(start_lo, start_hi))
        return start + travel * t


def heldout_prompts(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` prompts ``{"caption", "labels"}`` over held-out shapes combinations (cycling)."""
    return ShapesDataset.heldout_prompts(n, seed)
