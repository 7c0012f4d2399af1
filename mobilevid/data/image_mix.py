"""Joint image-video training data: whole batches of single frames mixed with video batches.

SnapGen-V (Wu et al., CVPR 2025) keeps training on images while it learns video, so the
spatial layers keep their image quality; the temporal layers simply see one frame. Images
and videos cannot share a batch (different frame counts), so the decision is made per
BATCH: batch ``b`` is an image batch when ``batch_is_image(b)``, a pure function of
``(seed, b)``. Item ``i`` belongs to batch ``i // batch_size``; an image item is one frame,
drawn per index, of the wrapped item.

Use it with a sequential loader so that batches stay whole::

    mix = ImageVideoMix(dataset, image_ratio=0.25, batch_size=8, shuffle=True, seed=0)
    loader = DataLoader(mix, batch_size=8, shuffle=False, drop_last=True, collate_fn=collate)
    for step, batch in enumerate(loader):
        assert batch["is_image"] == mix.batch_is_image(step)

``shuffle=True`` shuffles the wrapped data set by a fixed permutation (seeded), which the
DataLoader's own shuffling cannot do without breaking batches apart. ``collate`` refuses a
batch that mixes image and video items.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch.utils.data import Dataset

from mobilevid.errors import MobilevidError

_BATCH_SALT, _FRAME_SALT, _PERM_SALT = 11, 12, 13


class ImageVideoMix(Dataset):
    """Wraps a clip data set; a fraction ``image_ratio`` of its batches become single-frame image batches.

    Video items gain ``"is_image": False``; image items are
    ``{"video": (1, 3, H, W), "caption": ..., "labels": ..., "is_image": True}``.
    """

    def __init__(self, dataset: Dataset, image_ratio: float = 0.25, seed: int = 0, batch_size: int = 1,
                 shuffle: bool = False) -> None:
        if not 0.0 <= image_ratio <= 1.0:
            raise MobilevidError(f"image_ratio must be in [0, 1], got {image_ratio}")
        if batch_size < 1:
            raise MobilevidError(f"batch_size must be >= 1, got {batch_size}")
        self.dataset, self.image_ratio, self.seed, self.batch_size = dataset, float(image_ratio), int(seed), int(batch_size)
        self._order = np.random.default_rng([self.seed, _PERM_SALT]).permutation(len(dataset)) if shuffle else None

    def __len__(self) -> int:
        return len(self.dataset)

    def batch_is_image(self, batch_index: int) -> bool:
        """Whether batch ``batch_index`` (= item index // batch_size) is an image batch."""
        return bool(np.random.default_rng([self.seed, _BATCH_SALT, int(batch_index)]).random() < self.image_ratio)

    def is_image(self, index: int) -> bool:
        """Whether item ``index`` is an image item."""
        return self.batch_is_image(index // self.batch_size)

    def __getitem__(self, index: int) -> dict[str, Any]:
        source = int(self._order[index]) if self._order is not None else int(index)
        item = dict(self.dataset[source])
        if not self.is_image(index):
            item["is_image"] = False
            return item
        video = item["video"]
        frame = int(np.random.default_rng([self.seed, _FRAME_SALT, int(index)]).integers(video.shape[0]))
        item["video"] = video[frame : frame + 1].clone()
        if "frame_captions" in item:
            item["frame_captions"] = item["frame_captions"][frame : frame + 1]
            item["caption"] = item["frame_captions"][0]
        item["is_image"] = True
        return item
