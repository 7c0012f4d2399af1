"""Several data sets interleaved item by item (``make_dataset("shapes+digits")``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch.utils.data import Dataset

from mobilevid.errors import MobilevidError


class MixedDataset(Dataset):
    """Item ``i`` comes from data set ``i % k``, at its index ``(i // k) % len``.

    Every batch of ``k`` consecutive items holds one item of each set, so the mix is even
    whatever their sizes; the length is ``k * max(len)`` and shorter sets wrap around.
    """

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        if not datasets:
            raise MobilevidError("a mixed data set needs at least one data set")
        lengths = [len(d) for d in datasets]
        if min(lengths) == 0:
            raise MobilevidError("cannot mix an empty data set")
        self.datasets = list(datasets)
        self._length = len(self.datasets) * max(lengths)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self._length:
            raise IndexError(f"index {index} out of range for a mixed data set of length {self._length}")
        dataset = self.datasets[index % len(self.datasets)]
        return dataset[(index // len(self.datasets)) % len(dataset)]
