"""Recovery objectives: a pruned component learns to reproduce its unpruned self on real clips.

Both are pure functions of (seed, step) through ``StepBatches`` and ``step_generator``, which is
what makes ``--resume`` bit-exact. The same objectives, with the data term alone, give the
calibration gradients Taylor importance reads before pruning.
"""

from __future__ import annotations

from typing import Any

import torch

from mobilevid.data import make_dataset
from mobilevid.models.presets import ModelConfig
from mobilevid.models.rectified_flow import TIMESTEP_SCALE, add_noise, flow_loss, sample_times
from mobilevid.models.text_encoder import TextEncoder
from mobilevid.models.vae import VideoVAE
from mobilevid.models.video_unet import VideoUNet
from mobilevid.pruning.prune_config import RecoverConfig
from mobilevid.training.batches import StepBatches, step_generator
from mobilevid.training.text_cache import TextCache
from mobilevid.training.train import reconstruction_loss

_NOISE, _TIME, _DROP, _LEVEL = 11, 12, 13, 14
_DATA_LENGTH = 10_000_000  # procedural clips are rendered on demand; the length only bounds indices


def _core(model: torch.nn.Module) -> Any:
    return model.module if hasattr(model, "module") else model  # DDP wraps the model under accelerate


class DecoderMatching:
    """Pruned decoder vs the unpruned decoder on the frozen encoder's latents (SnapFusion's decoder recovery)."""

    def __init__(self, teacher: VideoVAE, model_cfg: ModelConfig, data: str, cfg: RecoverConfig, seed: int,
                 device: torch.device | str = "cpu", data_weight: float | None = None) -> None:
        self.teacher = teacher.eval().requires_grad_(False).to(device)
        self.cfg, self.device = cfg, device
        self.data_weight = cfg.data_weight if data_weight is None else data_weight
        frames = max(1, min(cfg.frames, model_cfg.num_frames))
        clips = make_dataset(data, "train", num_frames=frames, size=model_cfg.height, seed=seed, length=_DATA_LENGTH)
        self.batches = StepBatches(clips, cfg.batch_size, seed, 0.0)

    def __call__(self, model: torch.nn.Module, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        video = self.batches(step)["video"].to(self.device)
        b, f = video.shape[:2]
        x = video.reshape(b * f, *video.shape[2:])
        with torch.no_grad():
            z = self.teacher.encode_distribution(x).mean
            target = self.teacher.decode_frames(z, f)
        recon = _core(model).decode_frames(z, f)
        match = reconstruction_loss(recon, target, self.cfg.mse_weight, self.cfg.object_weight)
        loss = match
        if self.data_weight:
            loss = loss + self.data_weight * reconstruction_loss(recon, x, self.cfg.mse_weight, self.cfg.object_weight)
        return loss, {"match": float(match.detach()), "l1_to_clip": float((recon - x).abs().mean().detach())}


class DenoiserMatching:
    """Pruned denoiser vs the unpruned one: the same noised latents, text, time and fps, squared error."""

    def __init__(self, teacher: VideoUNet, vae: VideoVAE, model_cfg: ModelConfig, fixed_sigmas: list[float] | None,
                 data: str, cfg: RecoverConfig, seed: int, device: torch.device | str = "cpu",
                 data_weight: float | None = None) -> None:
        self.teacher = teacher.eval().requires_grad_(False).to(device)
        self.vae = vae.eval().requires_grad_(False).to(device)
        self.cfg, self.seed, self.device, self.model_cfg = cfg, seed, device, model_cfg
        self.data_weight = cfg.data_weight if data_weight is None else data_weight
        self.levels = torch.tensor(fixed_sigmas, dtype=torch.float32) if fixed_sigmas else None
        self.text = TextCache(TextEncoder(model_cfg.text_encoder, model_cfg.text_max_length))
        clips = make_dataset(data, "train", num_frames=model_cfg.num_frames, size=model_cfg.height, seed=seed,
                             length=_DATA_LENGTH)
        self.batches = StepBatches(clips, cfg.batch_size, seed, 0.0)

    def times(self, b: int, step: int) -> torch.Tensor:
        t = sample_times(b, step_generator(self.seed, step, 0, _TIME), self.cfg.time_mean, self.cfg.time_std)
        if self.levels is not None and self.cfg.own_levels_prob > 0:
            g = step_generator(self.seed, step, 0, _LEVEL)
            own = torch.rand(b, generator=g) < self.cfg.own_levels_prob
            pick = self.levels[torch.randint(len(self.levels), (b,), generator=g)]
            t = torch.where(own, pick, t)
        return t

    def __call__(self, model: torch.nn.Module, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        batch = self.batches(step)
        video = batch["video"].to(self.device)
        b = video.shape[0]
        with torch.no_grad():
            x0 = self.vae.encode(video)
        drop = torch.rand(b, generator=step_generator(self.seed, step, 0, _DROP)) < self.cfg.caption_dropout
        captions = ["" if d else c for c, d in zip(batch["caption"], drop.tolist(), strict=True)]
        states, pooled, mask = (t.to(self.device) for t in self.text(captions))
        noise = torch.randn(x0.shape, generator=step_generator(self.seed, step, 0, _NOISE)).to(self.device)
        t = self.times(b, step).to(self.device)
        x_t = add_noise(x0, noise, t)
        fps = torch.full((b,), float(self.model_cfg.fps), device=self.device)
        kwargs = {"encoder_attention_mask": mask, "pooled_text": pooled, "fps": fps}
        with torch.no_grad():
            target = self.teacher(x_t, t * TIMESTEP_SCALE, states, **kwargs)
        pred = model(x_t, t * TIMESTEP_SCALE, states, **kwargs)
        match = torch.mean((pred.float() - target.float()) ** 2)
        loss = match
        if self.data_weight:
            loss = loss + self.data_weight * flow_loss(pred, x0, noise)
        return loss, {"match": float(match.detach())}
