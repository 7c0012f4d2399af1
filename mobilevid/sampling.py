"""Flow-matching Euler sampling (classifier-free guidance is applied by the caller, see pipeline.py).

The schedule and step are diffusers' ``FlowMatchEulerDiscreteScheduler`` (Esser et al. 2024,
SD3): sigma goes from 1 (noise) to 0, ``x <- x + (sigma_next - sigma) * v``. Guidance is
classifier-free (Ho & Salimans 2022): ``v = v_uncond + g * (v_cond - v_uncond)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from mobilevid.models.rectified_flow import TIMESTEP_SCALE

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def schedule_sigmas(scheduler: FlowMatchEulerDiscreteScheduler, steps: int) -> torch.Tensor:
    """The ``steps + 1`` noise levels of a uniform schedule, from about 1 down to 0."""
    scheduler.set_timesteps(steps)
    return scheduler.sigmas.clone()


def shift_sigmas(sigmas: torch.Tensor, shift: float) -> torch.Tensor:
    """SD3's timestep shift, ``shift * s / (1 + (shift - 1) * s)``: more of the path spent at high noise.

    The same formula diffusers' scheduler applies inside ``set_timesteps`` (a static ``shift``);
    written out here because distillation needs it on arbitrary levels, not on a schedule.
    """
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def unshift_sigma(sigma: float, shift: float) -> float:
    """The inverse of ``shift_sigmas`` for one level."""
    return sigma / (shift - (shift - 1) * sigma)


@torch.no_grad()
def sample_flow_euler(
    velocity: VelocityFn,
    noise: torch.Tensor,
    sigmas: torch.Tensor,
    progress: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Integrate from ``noise`` (sigma = sigmas[0]) to a sample; ``velocity(x, timestep)`` gets timesteps in [0, 1000]."""
    x = noise
    for i in range(len(sigmas) - 1):
        t = torch.full((x.shape[0],), float(sigmas[i]) * TIMESTEP_SCALE, device=x.device)
        v = velocity(x, t)
        x = x + (sigmas[i + 1] - sigmas[i]) * v
        if progress is not None:
            progress(i)
    return x


@torch.no_grad()
def sample_x0_renoise(
    velocity: VelocityFn,
    noise: torch.Tensor,
    sigmas: torch.Tensor,
    generators: list[torch.Generator],
    progress: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Few-step sampling of an adversarially distilled student (ADD, Sauer et al. 2023; LADD 2024).

    At each level the clean estimate ``x0 = x - sigma * v`` is re-noised with FRESH noise to
    the next level: ``x = (1 - sigma_next) * x0 + sigma_next * eps``. The student was trained on
    real clips plus independent noise at each of its levels, so this is the input it knows; an
    Euler step would instead carry the starting noise, which is correlated with ``x0``.
    ``generators`` holds one generator per sample (row of ``noise``), for batch-independent draws.
    """
    x = noise
    for i in range(len(sigmas) - 1):
        sigma, nxt = float(sigmas[i]), float(sigmas[i + 1])
        t = torch.full((x.shape[0],), sigma * TIMESTEP_SCALE, device=x.device)
        x0 = x - sigma * velocity(x, t)
        if nxt > 0:
            eps = torch.stack([torch.randn(x.shape[1:], generator=g) for g in generators]).to(x)
            x = (1 - nxt) * x0 + nxt * eps
        else:
            x = x0
        if progress is not None:
            progress(i)
    return x

