"""Cached text embeddings for training: captions repeat and the encoder is frozen."""

from __future__ import annotations

import torch

from mobilevid.models.text_encoder import TextEncoder


class TextCache:
    """Caption -> (token states, pooled, mask), encoded once: captions repeat, the encoder is frozen."""

    def __init__(self, encoder: TextEncoder) -> None:
        self.encoder = encoder
        self.cache: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def __call__(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        missing = [c for c in dict.fromkeys(captions) if c not in self.cache]
        if missing:
            if "" in missing:
                self.cache[""] = tuple(t[0] for t in self.encoder.encode_null())  # type: ignore[assignment]
                missing.remove("")
            if missing:
                states, pooled, mask = self.encoder.encode(missing)
                for i, c in enumerate(missing):
                    self.cache[c] = (states[i], pooled[i], mask[i])
        items = [self.cache[c] for c in captions]
        return tuple(torch.stack(parts) for parts in zip(*items, strict=True))  # type: ignore[return-value]
