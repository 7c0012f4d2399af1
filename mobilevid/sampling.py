"""The sampler contract: every rule that turns denoiser outputs into a video, as small pure functions.

The PyTorch pipeline, the bundle runtime, distillation, profiling, the long-video samplers and the
Swift package all take their rules from here, so a video is reproducible bit for bit elsewhere.
A bundle's ``manifest.json`` states the same rules (mobilevid/export/manifest.py).

- Schedule: diffusers' ``FlowMatchEulerDiscreteScheduler`` (rectified flow, Esser et al. 2024, SD3):
  sigma runs from about 1 (noise) to 0; the denoiser's timestep input is ``sigma * 1000``.
- Guidance: classifier-free (Ho & Salimans 2022), ``v = v_uncond + g * (v_cond - v_uncond)``;
  a scale of exactly 1 means no unconditional call.
- Steps: a teacher takes Euler steps ``x + (sigma_next - sigma) * v``; a distilled student at its
  own levels re-noises its clean estimate with fresh noise (ADD, Sauer et al. 2023; LADD 2024).
- Noise: per prompt ``i`` a CPU ``torch.Generator`` seeded ``seed + i`` draws, in order, the
  initial noise and then one tensor of the same shape per re-noise step that has a next level
  above 0; all float32 standard normal (torch's CPU ``randn``: MT19937 + Box-Muller).
- Pixels: decoder output in [-1, 1] -> ``clamp((x + 1) / 2, 0, 1)`` -> uint8 ``round(p * 255)``,
  rounding half to even.

Every step is written as separate float32 tensor operations in a fixed order (no fused
multiply-add), so another language that does the same float32 operations gets the same bits.

Swift twin: ios_demo/Sources/MobileVidCore/Sampling.swift
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from mobilevid.errors import MobilevidError
from mobilevid.models.rectified_flow import TIMESTEP_SCALE  # the timestep input is sigma * 1000

SEED_MAX = 2**63 - 1  # torch.Generator.manual_seed takes a signed 64-bit seed

SamplerType = Literal["flow_match_euler", "x0_renoise"]
EULER: SamplerType = "flow_match_euler"
RENOISE: SamplerType = "x0_renoise"
SAMPLER_TYPES: tuple[SamplerType, ...] = (EULER, RENOISE)

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# Called after each step with (step index, input latents, timestep, velocity, output latents).
StepHook = Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], None]


# -- schedule -----------------------------------------------------------------------------------------
def schedule_sigmas(scheduler: FlowMatchEulerDiscreteScheduler, steps: int) -> torch.Tensor:
    """The ``steps + 1`` noise levels of the scheduler's schedule, from about 1 down to 0 (float32)."""
    scheduler.set_timesteps(steps)
    return scheduler.sigmas.clone().float()


def student_sigmas(levels: Sequence[float]) -> torch.Tensor:
    """A distilled student's fixed levels followed by the final 0."""
    return torch.tensor([*levels, 0.0], dtype=torch.float32)


def shift_sigmas(sigmas: torch.Tensor, shift: float) -> torch.Tensor:
    """SD3's timestep shift, ``shift * s / (1 + (shift - 1) * s)``: more of the path spent at high noise.

    The formula diffusers' scheduler applies inside ``set_timesteps``; written out because
    distillation needs it on arbitrary levels, not on a schedule.
    """
    return shift * sigmas / (1 + (shift - 1) * sigmas)


def unshift_sigma(sigma: float, shift: float) -> float:
    """The inverse of ``shift_sigmas`` for one level."""
    return sigma / (shift - (shift - 1) * sigma)


def timesteps(sigmas: torch.Tensor) -> list[float]:
    """The denoiser's timestep input at each step: ``float32(sigma * 1000)`` for all but the last level."""
    return [float(torch.tensor(float(s) * TIMESTEP_SCALE, dtype=torch.float32)) for s in sigmas[:-1]]


# -- the rule that picks the step, and what it costs ---------------------------------------------------
def sampler_type(fixed_levels: Sequence[float] | None, steps: int | None) -> SamplerType:
    """A distilled student (fixed levels) sampled at its own number of steps re-noises; anything else is Euler."""
    if fixed_levels is not None and (steps is None or steps == len(fixed_levels)):
        return RENOISE
    return EULER


def uses_guidance(guidance: float) -> bool:
    """Whether a step needs the unconditional call: any scale but exactly 1."""
    return float(guidance) != 1.0


def calls_per_step(guidance: float) -> int:
    """Denoiser calls per step: 2 under classifier-free guidance (conditional + unconditional), else 1."""
    return 2 if uses_guidance(guidance) else 1


def denoiser_calls(steps: int, guidance: float) -> int:
    """Denoiser calls for one video."""
    return steps * calls_per_step(guidance)


def check_guidance(guidance: float) -> float:
    """A guidance scale must be a finite number (NaN or Inf would turn every frame black)."""
    g = float(guidance)
    if not math.isfinite(g):
        raise MobilevidError(f"guidance scale must be a finite number, got {guidance}")
    return g


def check_seed(seed: int, count: int = 1) -> int:
    """A seed for ``count`` prompts (seeded ``seed .. seed + count - 1``) must fit torch's generator."""
    if not isinstance(seed, int) or seed < 0 or seed + count - 1 > SEED_MAX:
        raise MobilevidError(f"seed must be an integer in [0, {SEED_MAX - count + 1}] for {count} prompt(s), got {seed}")
    return seed


# -- guidance and steps --------------------------------------------------------------------------------
def combine_guidance(v_cond: torch.Tensor, v_uncond: torch.Tensor, guidance: float) -> torch.Tensor:
    """Classifier-free guidance (Ho & Salimans 2022): ``v_uncond + g * (v_cond - v_uncond)``."""
    return v_uncond + float(guidance) * (v_cond - v_uncond)


def _level(sigma: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """A level as a float32 tensor that broadcasts against ``like`` (a scalar, or per-frame (B, F, 1, 1, 1))."""
    return torch.as_tensor(sigma, dtype=like.dtype, device=like.device)


def euler_step(x: torch.Tensor, velocity: torch.Tensor, sigma: torch.Tensor | float,
               sigma_next: torch.Tensor | float) -> torch.Tensor:
    """One flow-matching Euler step (diffusers' ``FlowMatchEulerDiscreteScheduler.step``): ``x + (s' - s) * v``."""
    dt = _level(sigma_next, x) - _level(sigma, x)
    return x + dt * velocity


def clean_estimate(x: torch.Tensor, velocity: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """The rectified-flow clean sample ``x0 = x - sigma * v`` (x_t = (1 - t) x0 + t eps, v = eps - x0)."""
    return x - _level(sigma, x) * velocity


def renoise_step(x: torch.Tensor, velocity: torch.Tensor, sigma: torch.Tensor | float,
                 sigma_next: torch.Tensor | float, noise: torch.Tensor | None) -> torch.Tensor:
    """A distilled student's step (ADD / LADD): its clean estimate, re-noised with fresh ``noise`` to ``sigma_next``.

    ``x' = (1 - s') * x0 + s' * noise``; at the last level (``noise`` is None) it returns ``x0``.
    """
    x0 = clean_estimate(x, velocity, sigma)
    if noise is None:
        return x0
    nxt = _level(sigma_next, x)
    return (1 - nxt) * x0 + nxt * noise


def needs_fresh_noise(kind: SamplerType, sigma_next: float) -> bool:
    """Whether a step draws noise: a re-noise step to a level above 0."""
    return kind == RENOISE and float(sigma_next) > 0


# -- noise ---------------------------------------------------------------------------------------------
def prompt_generators(seed: int, count: int) -> list[torch.Generator]:
    """One CPU generator per prompt, seeded ``seed + i``, so a video does not depend on its batch."""
    check_seed(seed, count)
    return [torch.Generator().manual_seed(seed + i) for i in range(count)]


def draw_noise(generators: Sequence[torch.Generator], shape: Sequence[int]) -> torch.Tensor:
    """One float32 standard-normal draw of ``shape`` per generator, stacked: (len(generators), *shape)."""
    return torch.stack([torch.randn(tuple(shape), generator=g, dtype=torch.float32) for g in generators])


# -- the loop ------------------------------------------------------------------------------------------
def check_finite(tensor: torch.Tensor, where: str) -> torch.Tensor:
    """Stop with a message naming ``where`` when ``tensor`` holds NaN or Inf (a black video otherwise)."""
    if not bool(torch.isfinite(tensor).all()):
        raise MobilevidError(f"non-finite values (NaN or Inf) in {where}: check the model's weights and the "
                             "guidance scale")
    return tensor


@torch.no_grad()
def sample(velocity: VelocityFn, noise: torch.Tensor, sigmas: torch.Tensor, kind: SamplerType,
           generators: Sequence[torch.Generator] | None = None,
           progress: Callable[[int], None] | None = None, on_step: StepHook | None = None) -> torch.Tensor:
    """Integrate from ``noise`` at ``sigmas[0]`` down to ``sigmas[-1]`` with the step ``kind`` picks.

    ``velocity(x, timestep)`` gets one timestep per sample (``sigma * 1000``); ``generators`` (one
    per sample, already past the initial draw) supply a re-noise step's fresh noise.
    """
    if kind not in SAMPLER_TYPES:
        raise MobilevidError(f"unknown sampler type {kind!r}; valid: {', '.join(SAMPLER_TYPES)}")
    if kind == RENOISE and (generators is None or len(generators) != noise.shape[0]):
        raise MobilevidError("a re-noising sampler needs one generator per sample")
    x = noise
    steps = timesteps(sigmas)
    for i, t_value in enumerate(steps):
        sigma, nxt = sigmas[i], sigmas[i + 1]
        t = torch.full((x.shape[0],), t_value, dtype=torch.float32, device=x.device)
        v = check_finite(velocity(x, t), f"the denoiser output at step {i + 1} of {len(steps)}")
        if kind == EULER:
            out = euler_step(x, v, sigma, nxt)
        else:
            fresh = draw_noise(generators, x.shape[1:]).to(x) if needs_fresh_noise(kind, nxt) else None
            out = renoise_step(x, v, sigma, nxt, fresh)
        if on_step is not None:
            on_step(i, x, t, v, out)
        x = out
        if progress is not None:
            progress(i)
    return x


# -- pixels --------------------------------------------------------------------------------------------
def latents_to_pixels(decoded: torch.Tensor) -> torch.Tensor:
    """The VAE decoder's output (about [-1, 1]) -> frames in [0, 1]: ``clamp((x + 1) / 2, 0, 1)``."""
    return ((decoded + 1) / 2).clamp(0, 1)


def pixels_to_uint8(frames: torch.Tensor) -> torch.Tensor:
    """Frames in [0, 1] -> uint8 ``round(p * 255)`` (half to even), same layout."""
    return (frames.clamp(0, 1) * 255).round().to(torch.uint8)
