"""Deterministic batches: the clips of step s on process r are a pure function of (seed, s, r).

This, with per-step random generators for noise and times, is what makes ``--resume`` exact:
nothing about the data stream has to be saved in a checkpoint.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from mobilevid.data import collate
from mobilevid.data.image_mix import ImageVideoMix


class StepBatches:
    """Batch ``step`` of process ``rank`` out of ``world`` processes, with image/video mixing."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, image_ratio: float = 0.0,
                 rank: int = 0, world: int = 1) -> None:
        self.mix = ImageVideoMix(dataset, image_ratio=image_ratio, seed=seed, batch_size=batch_size, shuffle=False)
        self.batch_size, self.rank, self.world = batch_size, rank, world
        self.n = len(dataset)

    def __call__(self, step: int) -> dict[str, Any]:
        batch_index = (step * self.world + self.rank) % (self.n // self.batch_size)
        start = batch_index * self.batch_size
        return collate([self.mix[start + i] for i in range(self.batch_size)])


def step_generator(seed: int, step: int, rank: int, salt: int) -> torch.Generator:
    """A torch generator for (seed, step, rank, purpose): noise and times without saved RNG state."""
    return torch.Generator().manual_seed(((seed * 1_000_003 + step) * 1009 + rank) * 101 + salt)
