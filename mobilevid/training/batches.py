"""Training clips and deterministic batches: the clips of step s on process r are a pure function of (seed, s, r).

This, with per-step random generators for noise and times, is what makes ``--resume`` exact:
nothing about the data stream has to be saved in a checkpoint. ``training_data`` is the one way
the trainer's stages and the distiller build their clips from a ``--data`` spec.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from mobilevid.data import collate, make_dataset
from mobilevid.data.frame_size import CROP_MODES
from mobilevid.data.image_mix import ImageVideoMix
from mobilevid.errors import MobilevidError
from mobilevid.models.presets import ModelConfig

# Clips are rendered or decoded on demand, so the epoch length only bounds indices: built-in sets
# draw a new clip per index, a folder cycles over its videos with a new segment and crop per index.
TRAIN_LENGTH = 10_000_000


def training_data(spec: str, model_cfg: ModelConfig, seed: int, crop: str = "random", num_frames: int | None = None,
                  length: int = TRAIN_LENGTH, strides: list[int] | None = None) -> Dataset:
    """The training clips of ``spec`` (built-in sets, video folders, ``a+b`` mixes) as ``model_cfg`` takes them.

    Clips come at the model's height and width (a folder's clips fitted by ``crop``: ``"random"``,
    ``"center"`` or ``"resize"``), sampled at the model's frame rate, ``num_frames`` frames
    (default: the model's) each. ``strides``: frame distances for long clips and video folders (NUWA-XL's
    levels; None: long built-in clips at their own, folders at 1).
    """
    if crop not in CROP_MODES:
        raise MobilevidError(f"data_crop must be one of {', '.join(CROP_MODES)}, got {crop!r}")
    extra = {} if strides is None else {"strides": strides}
    return make_dataset(spec, "train", num_frames=num_frames or model_cfg.num_frames,
                        size=(model_cfg.height, model_cfg.width), seed=seed, length=length, fps=model_cfg.fps, crop=crop,
                        **extra)


class StepBatches:
    """Batch ``step`` of process ``rank`` out of ``world`` processes, with image/video mixing."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, image_ratio: float = 0.0,
                 rank: int = 0, world: int = 1) -> None:
        self.mix = ImageVideoMix(dataset, image_ratio=image_ratio, seed=seed, batch_size=batch_size, shuffle=False)
        self.batch_size, self.rank, self.world = batch_size, rank, world
        self.n = len(dataset)
        if self.n < batch_size:
            raise MobilevidError(f"a batch of {batch_size} clips needs at least {batch_size} in the data set, "
                                 f"which has {self.n}")

    def __call__(self, step: int) -> dict[str, Any]:
        batch_index = (step * self.world + self.rank) % (self.n // self.batch_size)
        start = batch_index * self.batch_size
        return collate([self.mix[start + i] for i in range(self.batch_size)])


def step_generator(seed: int, step: int, rank: int, salt: int) -> torch.Generator:
    """A torch generator for (seed, step, rank, purpose): noise and times without saved RNG state."""
    # Folded into the generator's 64-bit range: unchanged for seeds below ~1.8e8, no overflow above.
    return torch.Generator().manual_seed((((seed * 1_000_003 + step) * 1009 + rank) * 101 + salt) % 2**64)
