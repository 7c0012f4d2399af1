"""Latent frames in, pixel frames out, in order, with memory bounded by a chunk: the long-video decoder.

The VideoVAE decoder (MagicVideo sec. 3.4) has temporal convolutions (kernel 3 over frames)
between its stages, so a frame's pixels depend on ``k`` latent frames either side, k the number
of those layers. Each chunk is decoded with k latent frames of context on both sides (the
start and end of the video have none, as in a whole-video decode), which gives the same
pixels as decoding the whole video at once while holding only chunk + 2k latents.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mobilevid.sampling import check_finite, latents_to_pixels


class StreamingDecoder:
    """``push(latents (F, C, h, w))`` as frames are made, ``close()`` at the end; ``sink(pixels (F, 3, H, W))`` in order.

    Without a sink (a process that does not write the video) it only counts frames.
    """

    def __init__(self, vae: torch.nn.Module, sink: Callable[[torch.Tensor], None] | None, chunk: int = 16) -> None:
        self.vae = vae
        self.sink = sink
        self.chunk = max(1, chunk)
        temporal = getattr(vae, "temporal", None)
        self.context = 0 if temporal is None else len(temporal)
        self._left: torch.Tensor | None = None  # the last `context` latents already decoded
        self._pending: list[torch.Tensor] = []
        self.frames = 0

    def _pending_count(self) -> int:
        return sum(t.shape[0] for t in self._pending)

    @torch.no_grad()
    def _decode(self, count: int, right: int) -> None:
        """Decode the next ``count`` pending frames with ``right`` pending frames after them as context."""
        pending = torch.cat(self._pending)
        left = self._left if self._left is not None else pending[:0]
        window = torch.cat([left, pending[:count + right]])
        pixels = latents_to_pixels(check_finite(self.vae.decode(window[None]), "the VAE decoder output"))[0]
        self.sink(pixels[left.shape[0]:left.shape[0] + count])
        done = torch.cat([left, pending[:count]])
        self._left = done[-self.context:] if self.context else None
        self._pending = [pending[count:]]
        self.frames += count

    def push(self, latents: torch.Tensor) -> None:
        if self.sink is None:
            self.frames += latents.shape[0]
            return
        self._pending.append(latents.detach())
        while self._pending_count() >= self.chunk + self.context:
            self._decode(self.chunk, self.context)

    def close(self) -> None:
        rest = self._pending_count()
        if rest:
            self._decode(rest, 0)
