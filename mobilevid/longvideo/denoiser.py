"""The denoiser the long-video samplers call, and its implementation over a mobilevid model.

Samplers here are pure functions over a ``Denoiser`` (k-diffusion's habit: a sampler takes a
model function, not a model), so tests pass an exact analytic denoiser and the CLI passes
``ModelDenoiser``. The call::

    velocity = denoise(x, sigma, prompts, cond=None, cond_mask=None, fps=None)

x (B, F, C, H, W) latents; sigma (B, F) each frame's own noise level in [0, 1] (FIFO's
diagonal queue, NUWA-XL's known frames); prompts B lists of F strings (each frame its own
prompt); cond (B, F, C, H, W) known-frame latents with cond_mask (B, F) in {0, 1} (NUWA-XL's
visual condition); fps (B,) the frame rate of the clip the frames form (a keyframe level's
stride). It returns the rectified-flow velocity ``eps - x0`` (B, F, C, H, W).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch

from mobilevid.models.rectified_flow import TIMESTEP_SCALE
from mobilevid.sampling import check_finite, combine_guidance, uses_guidance


class Denoiser(Protocol):
    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, prompts: Sequence[Sequence[str]],
                 cond: torch.Tensor | None = None, cond_mask: torch.Tensor | None = None,
                 fps: torch.Tensor | None = None) -> torch.Tensor: ...


class ModelDenoiser:
    """A ``VideoUNet`` + text encoder as a ``Denoiser``, with classifier-free guidance.

    Prompts are encoded once each and cached (a schedule repeats a few prompts over thousands of
    frames). A batch whose frames share one prompt per row goes through the model's ordinary
    clip-level text path; otherwise each frame gets its own token states (B, F, L, D).
    ``calls`` counts denoiser evaluations of one clip window (a guided one counts two, as the
    pipeline counts them); ``batches`` counts forward passes.
    """

    def __init__(self, denoiser: torch.nn.Module, text_encoder: torch.nn.Module, guidance: float = 1.0,
                 default_fps: float = 8.0) -> None:
        self.denoiser = denoiser.eval()
        self.text_encoder = text_encoder
        self.guidance = float(guidance)
        self.default_fps = float(default_fps)
        self._cache: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        self._null: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self.calls = 0
        self.batches = 0

    def _encode(self, prompts: Sequence[str]) -> None:
        missing = sorted({p for p in prompts if p not in self._cache})
        if missing:
            states, pooled, mask = self.text_encoder.encode(missing)
            for i, p in enumerate(missing):
                self._cache[p] = (states[i], pooled[i], mask[i])

    def _text(self, prompts: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(states, pooled, mask): clip-level (B, L, D) when every row has one prompt, else per frame (B, F, L, D)."""
        self._encode([p for row in prompts for p in row])
        if all(len(set(row)) == 1 for row in prompts):
            rows = [self._cache[row[0]] for row in prompts]
            return tuple(torch.stack([r[k] for r in rows]) for k in range(3))  # type: ignore[return-value]
        frames = [[self._cache[p] for p in row] for row in prompts]
        return tuple(torch.stack([torch.stack([f[k] for f in row]) for row in frames])  # type: ignore[return-value]
                     for k in range(3))

    def _null_like(self, states: torch.Tensor, pooled: torch.Tensor, mask: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self._null is None:
            self._null = self.text_encoder.encode_null()
        n_states, n_pooled, n_mask = (t[0] for t in self._null)
        return n_states.expand_as(states), n_pooled.expand_as(pooled), n_mask.expand_as(mask)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, prompts: Sequence[Sequence[str]],
                 cond: torch.Tensor | None = None, cond_mask: torch.Tensor | None = None,
                 fps: torch.Tensor | None = None) -> torch.Tensor:
        b = x.shape[0]
        states, pooled, mask = self._text(prompts)
        t = sigma.to(torch.float32) * TIMESTEP_SCALE
        fps = torch.full((b,), self.default_fps) if fps is None else fps.to(torch.float32)
        extra = {} if cond is None else {"cond_latents": cond, "cond_mask": cond_mask}
        self.batches += 1
        if not uses_guidance(self.guidance):
            self.calls += b
            v = self.denoiser(x, t, states, encoder_attention_mask=mask, pooled_text=pooled, fps=fps, **extra)
            return check_finite(v, "the denoiser output")
        self.calls += 2 * b
        n_states, n_pooled, n_mask = self._null_like(states, pooled, mask)
        both = {k: torch.cat([v, v]) for k, v in extra.items()}
        v = self.denoiser(torch.cat([x, x]), torch.cat([t, t]), torch.cat([states, n_states]),
                          encoder_attention_mask=torch.cat([mask, n_mask]), pooled_text=torch.cat([pooled, n_pooled]),
                          fps=torch.cat([fps, fps]), **both)
        v_cond, v_uncond = v.chunk(2)
        return check_finite(combine_guidance(v_cond, v_uncond, self.guidance), "the denoiser output")
