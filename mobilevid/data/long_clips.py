"""Long built-in clips for NUWA-XL: shapes and digits on trajectories of thousands of frames.

NUWA-XL (Yin et al., ACL 2023, sec. 3.3) trains one model for every level of its recursion by
sampling each training video at that level's stride: the global model sees keyframes far apart,
the local models frames close together, and fps conditioning tells them which. Here one long
trajectory is drawn per item (a pure function of ``(seed, index)``): a shape or digit moving at
the short clips' speed, bouncing off the frame's edges, turning now and then, and changing
identity (colour and shape, or digit) at the boundaries of a prompt schedule of 1-3 segments.
Each frame has its own caption (its segment's identity and its own direction of motion). An
item is ``num_frames`` frames of it, ``stride`` frames apart (a stride from ``strides``, by
default NUWA-XL's with L = 16: 1, 15, 225) from a random start; only those frames are rendered.

    from mobilevid.data.long_clips import LongClipDataset
    item = LongClipDataset("shapes")[0]
    # {"video": (16, 3, 64, 64), "caption": ..., "frame_captions": [16 str], "labels": ..., "stride": 15}

Held-out identity x direction combinations of the short sets (and held-out digit images) are
never drawn: a bounce or a turn picks among the directions the segment's identity may train on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from skimage.transform import AffineTransform, resize, warp
from torch.utils.data import Dataset

from mobilevid.data import digits as digits_mod
from mobilevid.data import shapes as shapes_mod
from mobilevid.data.frame_size import frame_size
from mobilevid.data.procedural import SPLITS, frames_to_tensor
from mobilevid.errors import MobilevidError

NUWA_STRIDES = (1, 15, 225)  # (L - 1) ** k for L = 16, depth 3: 16 -> 226 -> 3376 frames
TRAJECTORY_FRAMES = 3376  # the span of that recursion
TURN_PROB = 1 / 48  # chance per frame of a turn (a new direction) besides the bounces
BASES = ("shapes", "digits")
_SALT = {"train": 20, "heldout": 21}


class LongClipDataset(Dataset):
    """Strided windows of long shapes/digits trajectories (see the module docstring).

    ``strides`` are the frame distances an item may have (drawn uniformly); ``trajectory_frames``
    is the length of each long video, at least ``(num_frames - 1) * max(strides) + 1``.
    """

    def __init__(self, base: str = "shapes", split: str = "train", num_frames: int = 16,
                 size: int | tuple[int, int] = 64, length: int | None = None, seed: int = 0,
                 strides: Sequence[int] = NUWA_STRIDES, trajectory_frames: int = TRAJECTORY_FRAMES) -> None:
        if base not in BASES:
            raise MobilevidError(f"unknown long-clip base {base!r}: expected one of {', '.join(BASES)}")
        if split not in SPLITS:
            raise MobilevidError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
        self.height, self.width = frame_size(size)
        if min(self.height, self.width) < 16:
            raise MobilevidError(f"height and width must be >= 16 pixels, got {self.height}x{self.width}")
        self.strides = tuple(int(s) for s in strides)
        if not self.strides or min(self.strides) < 1:
            raise MobilevidError(f"strides must be positive integers, got {list(strides)}")
        if num_frames < 1:
            raise MobilevidError(f"num_frames must be >= 1, got {num_frames}")
        need = (num_frames - 1) * max(self.strides) + 1
        if trajectory_frames < need:
            raise MobilevidError(f"trajectory_frames {trajectory_frames} is shorter than {num_frames} frames at "
                                 f"stride {max(self.strides)} ({need})")
        self.base, self.split, self.num_frames, self.seed = base, split, int(num_frames), int(seed)
        self.trajectory_frames = int(trajectory_frames)
        self.length = int(length) if length is not None else (8192 if split == "train" else 512)
        if self.length < 1:
            raise MobilevidError(f"length must be >= 1, got {self.length}")
        self.cls = shapes_mod.ShapesDataset if base == "shapes" else digits_mod.DigitsDataset
        if base == "digits":
            images, labels = digits_mod.digit_images()
            idx = digits_mod.image_split()[split]
            self._by_digit = {d: idx[labels[idx] == d] for d in digits_mod.DIGITS}

    def __len__(self) -> int:
        return self.length

    # -- the long video ----------------------------------------------------------------------
    def identities(self) -> list[tuple]:
        """What a segment can be: (colour, shape) or (digit,), with the directions its split allows."""
        directions = shapes_mod.DIRECTIONS if self.base == "shapes" else digits_mod.DIRECTIONS
        heldout = self.split == "heldout"
        out = []
        ids = [(c, s) for c in shapes_mod.COLORS for s in shapes_mod.SHAPES] if self.base == "shapes" \
            else [(d,) for d in digits_mod.DIGITS]
        for ident in ids:
            allowed = [m for m in directions if self.cls.is_heldout((*ident, m)) == heldout]
            if allowed:
                out.append(ident)
        return out

    def allowed_directions(self, ident: tuple) -> list[str]:
        directions = shapes_mod.DIRECTIONS if self.base == "shapes" else digits_mod.DIRECTIONS
        heldout = self.split == "heldout"
        return [m for m in directions if self.cls.is_heldout((*ident, m)) == heldout]

    def schedule(self, rng: np.random.Generator) -> list[tuple[int, tuple]]:
        """The prompt schedule of one trajectory: (first frame, identity) for 1-3 segments."""
        ids = self.identities()
        count = int(rng.integers(1, 4))
        cuts = sorted(int(c) for c in rng.choice(np.arange(1, self.trajectory_frames), size=count - 1, replace=False))
        return [(start, ids[int(rng.integers(len(ids)))]) for start in [0, *cuts]]

    def trajectory(self, rng: np.random.Generator, segments: list[tuple[int, tuple]], extent: tuple[float, float, float, float],
                   speed: tuple[float, float]) -> tuple[np.ndarray, list[str]]:
        """Positions (T, 2) and per-frame directions: constant speed, bounces off the edges, random turns.

        ``extent`` = (x lo, x hi, y lo, y hi) of the position; ``speed`` = (straight, diagonal per axis) px/frame.
        """
        directions = shapes_mod.DIRECTIONS
        t_total = self.trajectory_frames
        x_lo, x_hi, y_lo, y_hi = extent
        pos = np.array([rng.uniform(x_lo, x_hi), rng.uniform(y_lo, y_hi)])
        out = np.empty((t_total, 2))
        names: list[str] = []
        seg_starts = [s for s, _ in segments]
        seg = 0
        allowed = self.allowed_directions(segments[0][1])
        current = allowed[int(rng.integers(len(allowed)))]
        for t in range(t_total):
            if seg + 1 < len(segments) and t == seg_starts[seg + 1]:
                seg += 1
                allowed = self.allowed_directions(segments[seg][1])
                if current not in allowed:
                    current = allowed[int(rng.integers(len(allowed)))]
            if rng.random() < TURN_PROB:
                current = allowed[int(rng.integers(len(allowed)))]
            dx, dy = directions[current]
            step = speed[1] if dx and dy else speed[0]
            nxt = pos + step * np.array([dx, dy])
            blocked_x = nxt[0] < x_lo or nxt[0] > x_hi
            blocked_y = nxt[1] < y_lo or nxt[1] > y_hi
            if blocked_x or blocked_y:
                # Bounce: the mirrored direction if this identity may train on it, else any allowed one leading away.
                want = (-dx if blocked_x else dx, -dy if blocked_y else dy)
                away = [m for m in allowed if self._leads_inside(pos, directions[m], step, extent)] or allowed
                mirrored = [m for m in away if directions[m] == want]
                current = mirrored[0] if mirrored else away[int(rng.integers(len(away)))]
                dx, dy = directions[current]
                step = speed[1] if dx and dy else speed[0]
                nxt = np.clip(pos + step * np.array([dx, dy]), [x_lo, y_lo], [x_hi, y_hi])
            out[t] = pos
            names.append(current)
            pos = nxt
        return out, names

    @staticmethod
    def _leads_inside(pos: np.ndarray, d: tuple[int, int], step: float, extent: tuple[float, float, float, float]) -> bool:
        x, y = pos[0] + d[0] * step, pos[1] + d[1] * step
        return extent[0] <= x <= extent[1] and extent[2] <= y <= extent[3]

    # -- an item ---------------------------------------------------------------------------
    def _rng(self, index: int) -> np.random.Generator:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for a long-clip data set of length {self.length}")
        return np.random.default_rng([self.seed, _SALT[self.split], BASES.index(self.base), int(index)])

    def caption(self, ident: tuple, motion: str) -> str:
        return self.cls.caption(self.cls.labels_of((*ident, motion)), 0)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = self._rng(index)
        stride = self.strides[int(rng.integers(len(self.strides)))]
        span = (self.num_frames - 1) * stride + 1
        start = int(rng.integers(self.trajectory_frames - span + 1))
        frames = start + stride * np.arange(self.num_frames)
        segments = self.schedule(rng)
        if self.base == "shapes":
            video, names = self._render_shapes(rng, segments, frames)
        else:
            video, names = self._render_digits(rng, segments, frames)
        idents = [segment_at(segments, int(f)) for f in frames]
        captions = [self.caption(i, m) for i, m in zip(idents, names, strict=True)]
        mid = self.num_frames // 2
        return {"video": frames_to_tensor(video), "caption": captions[mid], "frame_captions": captions,
                "labels": {**self.cls.labels_of((*idents[mid], names[mid])), "start": start},
                "stride": stride}

    def _render_shapes(self, rng: np.random.Generator, segments: list[tuple[int, tuple]], frames: np.ndarray
                       ) -> tuple[np.ndarray, list[str]]:
        h, w = self.height, self.width
        radius = rng.uniform(*shapes_mod.RADIUS_RANGE) * min(h, w)
        # The largest half extent of any shape, so a segment change never puts the shape out of frame.
        half = max(max(shapes_mod.half_extent(s, radius)) for s in shapes_mod.SHAPES) + 1.0
        speed = (shapes_mod.STRAIGHT_TRAVEL * min(h, w) / 15, shapes_mod.DIAGONAL_TRAVEL * min(h, w) / 15)
        path, names = self.trajectory(rng, segments, (half, w - half, half, h - half), speed)
        bg = shapes_mod.background((h, w), rng)
        tints = {ident: np.clip(np.array(shapes_mod.PALETTE[ident[0]]) + rng.uniform(-0.05, 0.05, size=3), 0, 1)
                 for _, ident in segments}
        out = np.empty((len(frames), h, w, 3), dtype=np.float32)
        for i, f in enumerate(frames):
            ident = segment_at(segments, int(f))
            alpha = shapes_mod.shape_mask(ident[1], path[f, 0], path[f, 1], radius, (h, w))[..., None]
            out[i] = bg * (1.0 - alpha) + tints[ident] * alpha
        return out, [names[f] for f in frames]

    def _render_digits(self, rng: np.random.Generator, segments: list[tuple[int, tuple]], frames: np.ndarray
                       ) -> tuple[np.ndarray, list[str]]:
        h, w = self.height, self.width
        images, _ = digits_mod.digit_images()
        side = int(round(rng.uniform(*digits_mod.SPRITE_RANGE) * min(h, w)))
        sprites = {}
        for _, ident in segments:
            image = images[int(rng.choice(self._by_digit[ident[0]]))] / 16.0
            sprites[ident] = np.clip(resize(image, (side, side), order=3, mode="edge", anti_aliasing=False), 0, 1)
        speed = (digits_mod.STRAIGHT_TRAVEL * min(h, w) / 15, digits_mod.DIAGONAL_TRAVEL * min(h, w) / 15)
        path, names = self.trajectory(rng, segments, (0.0, float(w - side), 0.0, float(h - side)), speed)
        bg, fg = rng.uniform(0.0, 0.12), rng.uniform(0.85, 1.0)
        out = np.empty((len(frames), h, w, 3), dtype=np.float32)
        for i, f in enumerate(frames):
            sprite = sprites[segment_at(segments, int(f))]
            alpha = warp(sprite, AffineTransform(translation=(-path[f, 0], -path[f, 1])), output_shape=(h, w),
                         order=1, mode="constant", cval=0.0)
            out[i] = (bg + (fg - bg) * alpha)[..., None]
        return out, [names[f] for f in frames]


def segment_at(segments: list[tuple[int, tuple]], frame: int) -> tuple:
    """The identity of the schedule segment ``frame`` falls in."""
    ident = segments[0][1]
    for start, this in segments:
        if frame >= start:
            ident = this
    return ident


def dataset_strides(dataset: Dataset) -> list[int]:
    """The strides a (possibly mixed or image-mixed) data set's clips come at: 1 for ordinary clips."""
    inner = getattr(dataset, "dataset", None)
    if inner is not None:
        return dataset_strides(inner)
    parts = getattr(dataset, "datasets", None)
    if parts is not None:
        return sorted({s for d in parts for s in dataset_strides(d)})
    return sorted(getattr(dataset, "strides", (1,)))
