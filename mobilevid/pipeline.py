"""Text-to-video pipeline: text encoder -> flow-matching Euler sampling of the denoiser -> VAE decoder.

A model folder (diffusers-like layout)::

    model_index.json              ModelConfig: preset, sizes, frames, fps, sub-configs, sampling defaults
    denoiser/config.json + model.safetensors
    vae/config.json + model.safetensors
    scheduler/scheduler_config.json   diffusers FlowMatchEulerDiscreteScheduler; a distilled
                                      student's fixed noise levels under "sigmas" (read by every later stage)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from tqdm.auto import tqdm

from mobilevid.artifacts import atomic_dir, read_json, write_json
from mobilevid.config import from_dict, to_dict
from mobilevid.errors import MobilevidError
from mobilevid.models.presets import ModelConfig
from mobilevid.models.text_encoder import TextEncoder
from mobilevid.models.vae import VideoVAE
from mobilevid.models.video_unet import VideoUNet
from mobilevid.sampling import (
    RENOISE,
    calls_per_step,
    check_finite,
    check_guidance,
    combine_guidance,
    draw_noise,
    latents_to_pixels,
    prompt_generators,
    sample,
    sampler_type,
    schedule_sigmas,
    student_sigmas,
    uses_guidance,
)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "default_model"
# Models that ship inside the package, by name: the 4-step distilled student is the default,
# and the teacher it was distilled from stays available as "teacher"; "nuwa" is the teacher fine-tuned for
# NUWA-XL (long clips at each level's stride, first/last frames given: mobilevid/recipes/nuwa_finetune.yaml).
BUILTIN_MODELS = {"default": DEFAULT_MODEL_DIR, "teacher": Path(__file__).resolve().parent / "default_teacher",
                  "nuwa": Path(__file__).resolve().parent / "default_nuwa"}


@dataclass
class PipelineOutput:
    frames: torch.Tensor  # (B, F, 3, H, W) in [0, 1]
    seconds: float
    model_evaluations: int  # denoiser calls per video (a guided step counts two)


def resolve_model_dir(path: str | Path | None) -> Path:
    """``None`` -> the built-in default model; a built-in name ("default", "teacher", "nuwa"); otherwise a folder."""
    name = "default" if path is None else str(path)
    if name in BUILTIN_MODELS and not Path(name).exists():
        builtin = BUILTIN_MODELS[name]
        if not (builtin / "model_index.json").is_file():
            raise MobilevidError(f"the built-in model '{name}' is not installed; pass --model DIR")
        return builtin
    path = Path(name)
    if not path.is_dir():
        raise MobilevidError(f"model folder not found: {path} (built-in models: {', '.join(BUILTIN_MODELS)})")
    if not (path / "model_index.json").is_file():
        raise MobilevidError(f"{path} is not a model folder (no model_index.json)")
    return path


def student_levels(value: Any, source: Path) -> list[float] | None:
    """A distilled student's fixed noise levels as its scheduler config stores them: in (0, 1], decreasing."""
    if value is None:
        return None
    numbers = isinstance(value, list) and bool(value) and all(
        isinstance(s, int | float) and not isinstance(s, bool) and math.isfinite(s) for s in value)
    if not numbers or not all(0 < s <= 1 for s in value) or any(b >= a for a, b in zip(value, value[1:], strict=False)):
        raise MobilevidError(f"{source}: 'sigmas' must be a list of noise levels in (0, 1], decreasing, "
                             f"got {str(value)[:80]}")
    return [float(s) for s in value]


class Pipeline:
    """``Pipeline.from_pretrained(DIR)(prompts)`` returns frames, as diffusers pipelines do."""

    def __init__(self, config: ModelConfig, denoiser: VideoUNet, vae: VideoVAE, text_encoder: TextEncoder,
                 scheduler: FlowMatchEulerDiscreteScheduler | None = None,
                 fixed_sigmas: list[float] | None = None) -> None:
        self.config = config
        self.denoiser = denoiser.eval()
        self.vae = vae.eval()
        self.text_encoder = text_encoder
        self.scheduler = scheduler or FlowMatchEulerDiscreteScheduler()
        self.fixed_sigmas = list(fixed_sigmas) if fixed_sigmas else None  # a distilled student's noise levels
        self._null: tuple[torch.Tensor, ...] | None = None

    # -- loading and saving ------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path: str | Path | None = None) -> Pipeline:
        path = resolve_model_dir(path)
        config = from_dict(ModelConfig, read_json(path / "model_index.json"))
        denoiser = VideoUNet.from_pretrained(path / "denoiser")
        vae = VideoVAE.from_pretrained(path / "vae")
        sched_path = path / "scheduler" / "scheduler_config.json"
        sched_cfg = read_json(sched_path)
        # A student's fixed levels are ours, not the scheduler's: keep diffusers from warning about them.
        fixed = student_levels(sched_cfg.pop("sigmas", None), sched_path)
        sched_cfg.pop("timesteps", None)
        shift = sched_cfg.get("shift", 1.0)
        if not isinstance(shift, int | float) or not 0 < shift < float("inf"):  # else levels leave [0, 1]
            raise MobilevidError(f"{sched_path}: 'shift' must be a positive number, got {shift!r}")
        scheduler = FlowMatchEulerDiscreteScheduler.from_config(sched_cfg)
        return cls(config, denoiser, vae, TextEncoder(config.text_encoder, config.text_max_length), scheduler, fixed)

    @classmethod
    def from_config(cls, config: ModelConfig) -> Pipeline:
        """Fresh (untrained) components for ``config``."""
        return cls(config, VideoUNet(config.denoiser), VideoVAE(config.vae),
                   TextEncoder(config.text_encoder, config.text_max_length))

    def save_pretrained(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the model folder atomically; ``overwrite`` replaces an earlier model folder (model_index.json)."""
        self.config.denoiser = self.denoiser.config
        self.config.vae = self.vae.config
        with atomic_dir(path, overwrite, "model_index.json", "model folder") as tmp:
            write_json(tmp / "model_index.json", to_dict(self.config))
            self.denoiser.save_pretrained(tmp / "denoiser")
            self.vae.save_pretrained(tmp / "vae")
            self.scheduler.save_config(str(tmp / "scheduler"))
            if self.fixed_sigmas is not None:
                sched = read_json(tmp / "scheduler" / "scheduler_config.json")
                sched["sigmas"] = self.fixed_sigmas
                sched["timesteps"] = [s * 1000.0 for s in self.fixed_sigmas]
                write_json(tmp / "scheduler" / "scheduler_config.json", sched)
        return Path(path)

    # -- text --------------------------------------------------------------------------------------
    def encode_prompts(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.text_encoder.encode(prompts)

    def null_embedding(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The unconditional (empty caption) embedding used for guidance and caption dropout."""
        if self._null is None:
            self._null = self.text_encoder.encode_null()
        return self._null

    # -- sampling ----------------------------------------------------------------------------------
    def sigmas(self, steps: int | None = None) -> torch.Tensor:
        """The noise levels of a run: the student's fixed ones at its own step count, else the scheduler's."""
        if self.samples_as_student(steps):
            return student_sigmas(self.fixed_sigmas)
        return schedule_sigmas(self.scheduler, steps or self.config.sampling.steps)

    def samples_as_student(self, steps: int | None = None) -> bool:
        """Whether a run of ``steps`` re-noises (a distilled student at its own levels) rather than taking Euler steps."""
        return sampler_type(self.fixed_sigmas, steps) == RENOISE

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str],
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        seed: int = 0,
        num_frames: int | None = None,
        progress: bool = False,
    ) -> PipelineOutput:
        import time

        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        if not prompts:
            raise MobilevidError("no prompt given")
        frames = self.config.num_frames if num_frames is None else num_frames
        if not 1 <= frames <= self.denoiser.config.num_frames:
            raise MobilevidError(f"frames must be between 1 and {self.denoiser.config.num_frames}, got {frames}")
        if num_inference_steps is not None and num_inference_steps < 1:
            raise MobilevidError(f"steps must be at least 1, got {num_inference_steps}")
        guidance = check_guidance(self.config.sampling.guidance if guidance_scale is None else guidance_scale)
        generators = prompt_generators(seed, len(prompts))
        start = time.perf_counter()
        states, pooled, mask = self.encode_prompts(prompts)
        b = len(prompts)
        if uses_guidance(guidance):
            n_states, n_pooled, n_mask = self.null_embedding()
            states = torch.cat([states, n_states.expand(b, -1, -1)])
            pooled = torch.cat([pooled, n_pooled.expand(b, -1)])
            mask = torch.cat([mask, n_mask.expand(b, -1)])
        fps = torch.full((states.shape[0],), float(self.config.fps))
        d = self.denoiser.config
        noise = draw_noise(generators, (frames, d.in_channels, d.latent_height, d.latent_width))

        def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            if not uses_guidance(guidance):
                return self.denoiser(x, t, states, encoder_attention_mask=mask, pooled_text=pooled, fps=fps)
            # The conditional and unconditional calls share one batch here (the bundle runtime makes two calls).
            v = self.denoiser(torch.cat([x, x]), torch.cat([t, t]), states, encoder_attention_mask=mask,
                              pooled_text=pooled, fps=fps)
            return combine_guidance(*v.chunk(2), guidance)

        sigmas = self.sigmas(num_inference_steps)
        steps = len(sigmas) - 1
        kind = sampler_type(self.fixed_sigmas, num_inference_steps)
        # closed also when sampling stops with an error, so the message starts on a line of its own
        with tqdm(total=steps, desc="sampling", disable=not progress, leave=False) as bar:
            latents = sample(velocity, noise, sigmas, kind, generators, progress=lambda _: bar.update(1))
        video = latents_to_pixels(check_finite(self.vae.decode(latents), "the VAE decoder output"))
        return PipelineOutput(frames=video, seconds=time.perf_counter() - start,
                              model_evaluations=steps * calls_per_step(guidance))
