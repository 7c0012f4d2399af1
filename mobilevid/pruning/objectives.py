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
from mobilevid.sampling import RENOISE, SEED_MAX, draw_noise, sample, student_sigmas
from mobilevid.training.batches import StepBatches, step_generator
from mobilevid.training.text_cache import TextCache
from mobilevid.training.train import reconstruction_loss

_NOISE, _TIME, _DROP, _LEVEL, _TRAJECTORY = 11, 12, 13, 14, 15
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

    def trajectory_plan(self, b: int, step: int) -> list[tuple[int, int, int]]:
        """(sample, level index, sampling seed) of the samples of ``step`` taken from the student's own run."""
        g = step_generator(self.seed, step, 0, _TRAJECTORY)
        chosen = torch.rand(b, generator=g) < self.cfg.trajectory_prob
        level = torch.randint(len(self.levels), (b,), generator=g)
        seeds = torch.randint(SEED_MAX, (b,), generator=g)
        return [(i, int(level[i]), int(seeds[i])) for i in chosen.nonzero().flatten().tolist()]

    def on_trajectory(self, x_t: torch.Tensor, t: torch.Tensor, states: torch.Tensor, kwargs: dict[str, Any],
                      step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Swap a ``trajectory_prob`` share of the inputs for the unpruned student's own sampling states.

        A distilled student samples from noise, then from its re-noised clean estimates (ADD); after
        the first level its inputs are noised samples of its own, not noised real clips. Those samples
        run the unpruned student with their caption from the noise ``Pipeline(caption, seed=seed)``
        draws and stop at a random fixed level, so the pruned one is matched where it is used
        (on-policy, as step distillation matches along the teacher's trajectory).
        """
        plan = self.trajectory_plan(x_t.shape[0], step)
        if not plan:
            return x_t, t
        rows = [i for i, _, _ in plan]
        sigmas = student_sigmas(self.levels.tolist())
        deepest = max(k for _, k, _ in plan)
        gens = [torch.Generator().manual_seed(seed) for _, _, seed in plan]
        sub = {k: v[rows] for k, v in kwargs.items()}
        visited: list[torch.Tensor] = []

        def velocity(x: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
            visited.append(x)  # the input at each level, in order
            return self.teacher(x, timestep, states[rows], **sub)

        noise = draw_noise(gens, x_t.shape[1:]).to(self.device)
        visited.append(sample(velocity, noise, sigmas[:deepest + 1], RENOISE, gens))  # the state at ``deepest``
        x_t, t = x_t.clone(), t.clone()
        for j, (i, k, _) in enumerate(plan):
            x_t[i], t[i] = visited[k][j], sigmas[k]
        return x_t, t

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
            if self.levels is not None and self.cfg.trajectory_prob > 0:
                x_t, t = self.on_trajectory(x_t, t, states, kwargs, step)
            target = self.teacher(x_t, t * TIMESTEP_SCALE, states, **kwargs)
        pred = model(x_t, t * TIMESTEP_SCALE, states, **kwargs)
        match = torch.mean((pred.float() - target.float()) ** 2)
        loss = match
        if self.data_weight:
            loss = loss + self.data_weight * flow_loss(pred, x0, noise)
        return loss, {"match": float(match.detach())}
