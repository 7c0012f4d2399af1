"""Flow-matching Euler sampling with classifier-free guidance.

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


def schedule_sigmas(scheduler: FlowMatchEulerDiscreteScheduler, steps: int,
                    sigmas: list[float] | None = None) -> torch.Tensor:
    """The ``steps + 1`` noise levels, from about 1 down to 0 (custom ``sigmas`` for distilled students)."""
    if sigmas is not None:
        scheduler.set_timesteps(sigmas=list(sigmas))
    else:
        scheduler.set_timesteps(steps)
    return scheduler.sigmas.clone()


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


def guided(velocity_cond: Callable[[torch.Tensor, torch.Tensor, bool], torch.Tensor], guidance: float) -> VelocityFn:
    """Wrap a model call ``f(x, t, conditional)`` into a classifier-free-guided velocity."""
    if guidance == 1.0:
        return lambda x, t: velocity_cond(x, t, True)

    def fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        v_c = velocity_cond(x, t, True)
        v_u = velocity_cond(x, t, False)
        return v_u + guidance * (v_c - v_u)

    return fn
