"""Shared machinery of the built-in procedural data sets (shapes, digits, photos).

Each built-in set is a grid of label combinations (e.g. colour x shape x motion). A fixed,
deterministic subset of that grid is held out: the ``"train"`` split never renders it and
the ``"heldout"`` split renders only it, so a model can be scored on prompts it never saw
(compositional generalisation). Items are rendered on the fly and are a pure function of
``(seed, split, index)``: the same index always gives the same clip, which makes resuming
a training run exact and lets a DataLoader use any number of workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from mobilevid.data.frame_size import frame_size
from mobilevid.errors import MobilevidError

SPLITS = ("train", "heldout")
# Salts so that the train and held-out splits never share a random stream.
_SPLIT_SALT = {"train": 0, "heldout": 1}


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(F, H, W, 3) float frames in [0, 1] -> float32 tensor (F, 3, H, W) in [-1, 1]."""
    clip = np.clip(np.asarray(frames, dtype=np.float32), 0.0, 1.0)
    return torch.from_numpy(np.ascontiguousarray(clip.transpose(0, 3, 1, 2))) * 2.0 - 1.0


def cycle_combos(combos: Sequence[tuple], n: int, seed: int) -> list[tuple]:
    """``n`` combinations cycling over ``combos`` in a seed-dependent order (seed 0: as listed)."""
    order = np.arange(len(combos)) if seed == 0 else np.random.default_rng(seed).permutation(len(combos))
    return [combos[order[i % len(combos)]] for i in range(n)]


class ProceduralClipDataset(Dataset):
    """Map-style base class: a subclass lists its label grid and renders one clip from a Generator.

    Subclasses set ``name`` and ``num_templates`` and implement ``all_combos()``,
    ``is_heldout(combo)``, ``labels_of(combo)``, ``caption(labels, template)`` and
    ``render(combo, index, rng)`` -> frames (F, height, width, 3) float in [0, 1]. ``size`` is one
    side (square) or ``(height, width)``; a square render is the same at either spelling.
    """

    name = "procedural"
    num_templates = 1

    def __init__(self, split: str = "train", num_frames: int = 16, size: int | tuple[int, int] = 64,
                 length: int | None = None, seed: int = 0) -> None:
        if split not in SPLITS:
            raise MobilevidError(f"unknown split {split!r} for the {self.name} data set: expected one of {', '.join(SPLITS)}")
        if num_frames < 1:
            raise MobilevidError(f"num_frames must be >= 1 for the {self.name} data set, got {num_frames}")
        self.height, self.width = frame_size(size)
        if min(self.height, self.width) < 16:
            raise MobilevidError(f"height and width must be >= 16 pixels for the {self.name} data set, "
                                 f"got {self.height}x{self.width}")
        self.split = split
        self.num_frames = int(num_frames)
        self.seed = int(seed)
        # An epoch length only: clips are rendered on the fly, so any length is as cheap as any other.
        self.length = int(length) if length is not None else (8192 if split == "train" else 512)
        if self.length < 1:
            raise MobilevidError(f"length must be >= 1, got {self.length}")
        self.combos = [c for c in self.all_combos() if self.is_heldout(c) == (split == "heldout")]

    # -- to implement -------------------------------------------------------------------------
    @classmethod
    def all_combos(cls) -> list[tuple]:
        raise NotImplementedError

    @classmethod
    def is_heldout(cls, combo: tuple) -> bool:
        raise NotImplementedError

    @classmethod
    def labels_of(cls, combo: tuple) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def caption(cls, labels: dict[str, Any], template: int = 0) -> str:
        raise NotImplementedError

    def render(self, combo: tuple, index: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------
    @classmethod
    def heldout_combos(cls) -> list[tuple]:
        return [c for c in cls.all_combos() if cls.is_heldout(c)]

    @classmethod
    def train_combos(cls) -> list[tuple]:
        return [c for c in cls.all_combos() if not cls.is_heldout(c)]

    @classmethod
    def heldout_prompts(cls, n: int, seed: int = 0) -> list[dict[str, Any]]:
        """``n`` held-out prompts ``{"caption", "labels"}`` cycling over the held-out combinations."""
        out = []
        for combo in cycle_combos(cls.heldout_combos(), n, seed):
            labels = cls.labels_of(combo)
            out.append({"caption": cls.caption(labels, 0), "labels": labels})
        return out

    def __len__(self) -> int:
        return self.length

    def _draw(self, index: int) -> tuple[np.random.Generator, tuple, int]:
        """The item's random stream, label combination and caption template (cheap: nothing rendered)."""
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.name} data set of length {self.length}")
        # SeedSequence over (seed, split, index): independent streams per item, stable across runs.
        rng = np.random.default_rng([self.seed, _SPLIT_SALT[self.split], int(index)])
        if self.split == "heldout":
            # Cycle so that any run of consecutive held-out items covers the held-out combinations evenly.
            return rng, self.combos[index % len(self.combos)], 0  # template 0: what heldout_prompts() gives
        combo = self.combos[int(rng.integers(len(self.combos)))]
        return rng, combo, int(rng.integers(self.num_templates))

    def labels_at(self, index: int) -> dict[str, Any]:
        """The labels of item ``index`` without rendering it."""
        return self.labels_of(self._draw(index)[1])

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng, combo, template = self._draw(index)
        frames = self.render(combo, int(index), rng)
        labels = self.labels_of(combo)
        return {"video": frames_to_tensor(frames), "caption": self.caption(labels, template), "labels": labels}
