"""One clip window sampled over a ``Denoiser``, optionally with known frames: the building block of the
long-video samplers (NUWA-XL's global and local calls, the autoregressive baseline's windows,
FIFO-Diffusion's first clip).

Known frames enter twice, as in how the model trains for them (``mobilevid train``'s NUWA-XL
local mode, Yin et al. 2023 sec. 3.2): as the visual condition (clean latents + mask, through
the denoiser's ``cond``), and in the input itself, where at every level a known frame is its
clean latent forward-noised to that level with the window's initial noise (the replacement
method of Ho et al. 2022, "Video Diffusion Models", sec. 3.1), so known frames look like the
noised clip the model was trained on. At the end they are returned exactly as given.
Steps, the step rule and the noise rule are the sampler contract's (``mobilevid.sampling``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from mobilevid.longvideo.denoiser import Denoiser
from mobilevid.sampling import EULER, SamplerType, draw_noise, euler_step, needs_fresh_noise, renoise_step


def forward_noise(clean: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """The rectified-flow path ``(1 - s) * x0 + s * eps`` (``mobilevid.models.rectified_flow.add_noise``)."""
    s = torch.as_tensor(sigma, dtype=clean.dtype)
    return (1 - s) * clean + s * noise


def frame_sigmas(sigma: torch.Tensor) -> torch.Tensor:
    """(B, F) levels -> (B, F, 1, 1, 1), to broadcast against latents."""
    return sigma.reshape(*sigma.shape, 1, 1, 1)


def step(kind: SamplerType, x: torch.Tensor, velocity: torch.Tensor, sigma: torch.Tensor, sigma_next: torch.Tensor,
         generators: Sequence[torch.Generator] | None) -> torch.Tensor:
    """One per-frame step of the contract's rule: sigma, sigma_next (B, F) each frame's own levels."""
    s, s_next = frame_sigmas(sigma), frame_sigmas(sigma_next)
    if kind == EULER:
        return euler_step(x, velocity, s, s_next)
    fresh = None
    if needs_fresh_noise(kind, float(sigma_next.max())):
        if generators is None:
            raise ValueError("a re-noising step needs generators")
        fresh = draw_noise(generators, x.shape[1:]).to(x)
    # Where sigma_next is 0 the fresh noise has weight 0: that frame gets its clean estimate.
    return renoise_step(x, velocity, s, s_next, fresh)


@torch.no_grad()
def sample_clip(denoise: Denoiser, noise: torch.Tensor, sigmas: torch.Tensor, kind: SamplerType,
                prompts: Sequence[Sequence[str]], generators: Sequence[torch.Generator] | None = None,
                known: torch.Tensor | None = None, known_mask: torch.Tensor | None = None,
                fps: torch.Tensor | None = None, on_step: Callable[[int], None] | None = None) -> torch.Tensor:
    """Sample a batch of clips from ``noise`` (B, F, C, H, W) down ``sigmas`` (descending, ending at 0).

    ``known`` (B, F, C, H, W) with ``known_mask`` (B, F) gives frames that are fixed; ``generators``
    (one per row) draw a re-noise step's fresh noise.
    """
    b, f = noise.shape[:2]
    x = noise
    m = None if known is None else frame_sigmas(known_mask.to(noise.dtype))
    for i in range(len(sigmas) - 1):
        sigma = torch.full((b, f), float(sigmas[i]))
        nxt = torch.full((b, f), float(sigmas[i + 1]))
        if m is not None:
            x = m * forward_noise(known, noise, sigmas[i]) + (1 - m) * x
        v = denoise(x, sigma, prompts, cond=known, cond_mask=known_mask, fps=fps)
        x = step(kind, x, v, sigma, nxt, generators)
        if on_step is not None:
            on_step(i)
    if m is not None:
        x = m * known + (1 - m) * x
    return x
