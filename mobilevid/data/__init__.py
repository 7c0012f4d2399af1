"""Data sets: three built-in procedural sets with exact labels, user video folders, mixes.

Every item is ``{"video": float32 (F, 3, H, W) in [-1, 1], "caption": str, "labels": dict}``;
batch them with ``collate``. ``make_dataset`` builds any of them from one string::

    make_dataset("shapes")                 # built-in, by name (shapes, digits, photos)
    make_dataset("shapes+digits")          # interleaved mix (names and folders can be mixed)
    make_dataset("/data/my_videos")        # a folder of videos with captions.csv / .jsonl
    make_dataset("shapes+/data/my_videos", size=(288, 512))   # any (height, width)
    make_dataset("long-shapes+long-digits")  # strided windows of long trajectories (NUWA-XL levels)
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from mobilevid.data.collate import collate
from mobilevid.data.digits import DigitsDataset
from mobilevid.data.folder import FolderVideoDataset
from mobilevid.data.image_mix import ImageVideoMix
from mobilevid.data.long_clips import BASES as LONG_BASES
from mobilevid.data.long_clips import LongClipDataset
from mobilevid.data.mixed import MixedDataset
from mobilevid.data.photos import PhotosDataset
from mobilevid.data.procedural import SPLITS, ProceduralClipDataset
from mobilevid.data.shapes import ShapesDataset
from mobilevid.errors import MobilevidError

BUILTIN_DATASETS: dict[str, type[ProceduralClipDataset]] = {
    "shapes": ShapesDataset,
    "digits": DigitsDataset,
    "photos": PhotosDataset,
}


def _valid_names() -> str:
    return f"{', '.join(BUILTIN_DATASETS)}, {', '.join('long-' + b for b in LONG_BASES)}, a mix like 'shapes+digits', or an existing folder of videos"


def _build_one(name: str, split: str, num_frames: int, size: int | tuple[int, int], kw: dict[str, Any]) -> Dataset:
    if name in BUILTIN_DATASETS:
        cls: type = BUILTIN_DATASETS[name]
        args: dict[str, Any] = {"split": split, "num_frames": num_frames, "size": size}
    elif name.startswith("long-") and name[5:] in LONG_BASES:
        cls, args = LongClipDataset, {"base": name[5:], "split": split, "num_frames": num_frames, "size": size}
    elif Path(name).is_dir():
        # A folder is one set as it is: ``split`` does not apply to it.
        cls, args = FolderVideoDataset, {"root": name, "num_frames": num_frames, "size": size}
    else:
        raise MobilevidError(f"unknown data set {name!r}: expected {_valid_names()}")
    accepted = {k: v for k, v in kw.items() if k in inspect.signature(cls).parameters}
    return cls(**args, **accepted)


def _known_options() -> set[str]:
    """Keywords some kind of data set takes (beyond the name, split, frame count and size)."""
    kinds = [*BUILTIN_DATASETS.values(), FolderVideoDataset, LongClipDataset]
    return {name for cls in kinds for name in inspect.signature(cls).parameters} - {"root", "base", "split", "num_frames",
                                                                                     "size"}


def make_dataset(name_or_dir: str, split: str = "train", num_frames: int = 16, size: int | tuple[int, int] = 64,
                 **kw: Any) -> Dataset:
    """A built-in set by name, a ``"a+b"`` mix (``MixedDataset``), or a ``FolderVideoDataset``.

    ``size`` is one side (square frames) or ``(height, width)``. Extra keywords go to the parts
    that take them: ``seed`` and ``length`` (items per epoch) to every part, ``fps``, ``captions``
    and ``crop`` (how a clip is fitted to ``size``: ``"random"``, ``"center"``, ``"resize"``) to
    folders only, so a caller can pass them whatever the spec holds. A keyword no kind of data set
    takes is an error.
    """
    name_or_dir = str(name_or_dir)
    if split not in SPLITS:
        raise MobilevidError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")
    # An existing folder wins over the mix syntax, in case its name contains "+".
    parts = [name_or_dir] if Path(name_or_dir).is_dir() else [p.strip() for p in name_or_dir.split("+")]
    if not all(parts):
        raise MobilevidError(f"malformed data set name {name_or_dir!r}: expected {_valid_names()}")
    unknown = sorted(set(kw) - _known_options())
    if unknown:
        raise MobilevidError(f"unknown option(s) {', '.join(unknown)} for data set {name_or_dir!r}")
    datasets = [_build_one(p, split, num_frames, size, kw) for p in parts]
    return datasets[0] if len(datasets) == 1 else MixedDataset(datasets)


def heldout_prompts(name: str, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` held-out prompts ``{"caption", "labels"}`` of a built-in set (cycling over its held-out combinations)."""
    if name not in BUILTIN_DATASETS:
        raise MobilevidError(f"no held-out prompts for {name!r}: expected one of {', '.join(BUILTIN_DATASETS)}")
    return BUILTIN_DATASETS[name].heldout_prompts(n, seed)


__all__ = [
    "BUILTIN_DATASETS",
    "DigitsDataset",
    "FolderVideoDataset",
    "ImageVideoMix",
    "LongClipDataset",
    "MixedDataset",
    "PhotosDataset",
    "ShapesDataset",
    "collate",
    "heldout_prompts",
    "make_dataset",
]
