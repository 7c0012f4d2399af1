"""``mobilevid distill``: adversarial distillation of a teacher into a few-step student.

SnapGen-V (Wu et al. 2025, sec. 4), SF-V (Zhang et al. 2024) and LADD (Sauer et al. 2024):
the student starts from the teacher and samples with a fixed set of noise levels. Each
iteration

1. noises real clips to one of the student's levels (or, with ``backward_simulation``, runs
   the student's own steps from noise down to it) and lets the student jump to a clean
   estimate ``x0_s = x - sigma * v``;
2. runs the frozen teacher, guided, from the same point to sigma = 0 (the reconstruction
   target, so guidance is baked into the student);
3. re-noises real clips and ``x0_s`` to a sampled level and scores both with the
   discriminator (frozen teacher encoder + trainable heads): hinge loss plus an approximate
   R1 penalty for the heads; adversarial loss plus a pseudo-Huber reconstruction term for
   the student.

Output folder: ``model/`` (a student model folder whose scheduler config carries its
``sigmas``), ``stages/distill/checkpoints/`` and ``logs/``.
"""

from __future__ import annotations

import copy
import logging
import math
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers.training_utils import EMAModel
from tqdm.auto import tqdm

from mobilevid.config import to_dict
from mobilevid.distillation.discriminator import Discriminator
from mobilevid.distillation.distill_config import DistillConfig
from mobilevid.errors import MobilevidError
from mobilevid.models.presets import TrainedFor
from mobilevid.models.rectified_flow import TIMESTEP_SCALE, add_noise, sample_times
from mobilevid.pipeline import Pipeline
from mobilevid.sampling import (
    EULER,
    RENOISE,
    VelocityFn,
    clean_estimate,
    combine_guidance,
    euler_step,
    sample,
    shift_sigmas,
    unshift_sigma,
)
from mobilevid.training.batches import StepBatches, step_generator, training_data
from mobilevid.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from mobilevid.training.run_setup import start_run
from mobilevid.training.text_cache import TextCache

logger = logging.getLogger("mobilevid.distill")

_LEVEL, _NOISE, _RENOISE, _R1, _FAKE, _BACKSIM, _BACKSIM_NOISE, _BLOCKS = 21, 22, 23, 24, 25, 26, 27, 28


def student_sigmas(cfg: DistillConfig, shift: float = 1.0) -> list[float]:
    """The student's fixed noise levels, highest first.

    By default the uniform levels 1, (n-1)/n, ..., 1/n under the teacher's schedule shift (so a
    teacher trained and sampled with more weight at high noise hands the student the same).
    """
    if cfg.student_sigmas is not None:
        sig = [float(s) for s in cfg.student_sigmas]
        if len(sig) != cfg.student_steps or any(not 0 < s <= 1 for s in sig) or sig != sorted(sig, reverse=True) \
                or sig[0] != 1.0:
            # Sampling starts from pure noise, which is the level 1.
            raise MobilevidError("student_sigmas must be student_steps decreasing values in (0, 1], starting at 1")
        return sig
    if cfg.student_steps < 1:
        raise MobilevidError(f"student_steps must be at least 1, got {cfg.student_steps}")
    n = cfg.student_steps
    uniform = torch.tensor([1.0 - i / n for i in range(n)], dtype=torch.float64)
    return [round(float(v), 6) for v in shift_sigmas(uniform, shift)]


def staircase_levels(sigmas: list[float], frames: int) -> torch.Tensor:
    """(F,) levels of FIFO's student queue over one window: ``len(sigmas)`` blocks of frames, the first
    block at the lowest level, the last at the highest (``mobilevid.longvideo.fifo.student_geometry``)."""
    k = len(sigmas)
    if frames % k:
        raise MobilevidError(f"per_block_levels needs the {frames}-frame clip split into {k} equal blocks")
    ascending = torch.tensor(sigmas[::-1], dtype=torch.float32)
    return ascending.repeat_interleave(frames // k)


def euler_per_frame(velocity: VelocityFn, x: torch.Tensor, start: torch.Tensor, steps: int, shift: float) -> torch.Tensor:
    """Euler from per-frame levels ``start`` (B, F) to 0 in ``steps`` steps, each frame on its own copy of the
    shifted schedule: the clip-level ``sample`` with (B, F) timesteps, which that function does not take."""
    u = unshift_sigma(start, shift)  # elementwise on a tensor
    levels = shift_sigmas(torch.stack([u * (1 - i / steps) for i in range(steps + 1)]), shift)
    for i in range(steps):
        s, s_next = levels[i], levels[i + 1]
        v = velocity(x, s * TIMESTEP_SCALE)
        x = euler_step(x, v, s[..., None, None, None], s_next[..., None, None, None])
    return x


def pseudo_huber(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pseudo-Huber distance per clip, c = 0.00054 * sqrt(d) (Song & Dhariwal 2023, improved consistency training)."""
    d = a[0].numel()
    c = 0.00054 * math.sqrt(d)
    diff = (a - b).flatten(1)
    return (torch.sqrt((diff * diff).sum(1) + c * c) - c).mean() / math.sqrt(d)


def own_input(velocity: VelocityFn, noise: torch.Tensor, sigmas: list[float], level: int,
              generator: torch.Generator) -> torch.Tensor:
    """The student's input at ``sigmas[level]`` when it samples from ``noise``: its own steps down to that level.

    DMD2's backward simulation (Yin et al. 2024): a few-step student meets its own re-noised
    estimates at every level after the first, not noised real clips, so it trains on those.
    """
    return sample(velocity, noise, torch.tensor(sigmas[: level + 1]), RENOISE, [generator] * noise.shape[0])


def _scores(disc: torch.nn.Module, clips: list[torch.Tensor], cond: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """Logits (B, heads) of several batches of clips in ONE discriminator call (DDP wants one forward per backward)."""
    k = len(clips)
    timestep, states, mask, pooled, fps = cond
    logits = disc(torch.cat(clips), timestep.repeat(k), states.repeat(k, 1, 1), mask.repeat(k, 1), pooled.repeat(k, 1),
                  fps.repeat(k))
    return list(logits.chunk(k))


def _warm_start(student: torch.nn.Module, student_dir: str, sigmas: list[float]) -> None:
    """Load an earlier student's denoiser weights into ``student`` (same architecture and levels)."""
    init = Pipeline.from_pretrained(student_dir)
    if init.fixed_sigmas is None:
        raise MobilevidError(f"student_init {student_dir} is not a distilled student (no fixed sigmas)")
    if [round(float(s), 6) for s in init.fixed_sigmas] != [round(float(s), 6) for s in sigmas]:
        raise MobilevidError(f"student_init {student_dir} samples at {list(init.fixed_sigmas)}, this run at {sigmas}")
    if to_dict(init.denoiser.config) != to_dict(student.config):
        raise MobilevidError(f"student_init {student_dir} has a different denoiser architecture from the teacher")
    student.load_state_dict(init.denoiser.state_dict())
    logger.info("student warm-started from %s", student_dir)


def distill(cfg: DistillConfig, teacher_dir: str | Path, output: str | Path, resume: bool = False,
            argv: list[str] | None = None) -> Path:
    """Train a student from ``teacher_dir``; returns the student model folder."""
    out = Path(output)
    if out.exists() and any(out.iterdir()) and not resume:
        raise MobilevidError(f"output folder {out} is not empty: pass --resume to continue it, or choose another")
    if not 0.0 <= cfg.backward_simulation <= 1.0:
        raise MobilevidError(f"backward_simulation is a share of iterations in [0, 1], got {cfg.backward_simulation}")
    teacher_pipe = Pipeline.from_pretrained(teacher_dir)
    if teacher_pipe.fixed_sigmas is not None:
        raise MobilevidError(f"{teacher_dir} is already a distilled student; give the teacher")
    shift = float(teacher_pipe.scheduler.config.shift)
    sigmas = student_sigmas(cfg, shift)
    model_cfg = teacher_pipe.config
    if cfg.per_block_levels > 0:
        staircase_levels(sigmas, model_cfg.num_frames)  # a window that the levels cannot split fails here
    training_data(cfg.data, model_cfg, cfg.seed, cfg.data_crop)  # a bad --data fails here, before the run starts
    acc = start_run(out, cfg.mixed_precision, cfg.seed, {**to_dict(cfg), "teacher": str(teacher_dir)}, argv, "distill")

    teacher = teacher_pipe.denoiser.eval().requires_grad_(False).to(acc.device)
    vae = teacher_pipe.vae.eval().requires_grad_(False).to(acc.device)
    student = copy.deepcopy(teacher).train().requires_grad_(True)
    if cfg.student_init is not None:
        _warm_start(student, cfg.student_init, sigmas)
    disc = Discriminator(teacher, temporal_heads=cfg.temporal_heads).to(acc.device)
    heads = torch.nn.ModuleDict({n: m for n, m in disc.named_children() if n != "teacher"})  # shares disc's modules
    text = TextCache(teacher_pipe.text_encoder)
    data = training_data(cfg.data, model_cfg, cfg.seed, cfg.data_crop)  # at the teacher's size and frame rate
    batches = StepBatches(data, cfg.batch_size, cfg.seed, cfg.image_ratio, acc.process_index, acc.num_processes)
    rank = acc.process_index

    s_params = list(student.parameters())
    opt_s = torch.optim.AdamW(s_params, lr=cfg.lr_student)
    opt_d = torch.optim.AdamW(heads.parameters(), lr=cfg.lr_heads, betas=(0.0, 0.99))
    ema = EMAModel(s_params, decay=cfg.ema_decay)
    ckpt_root = out / "stages" / "distill" / "checkpoints"
    start = 0
    if resume and (ckpt := latest_checkpoint(ckpt_root)) is not None:
        start, emas, state = load_checkpoint(ckpt, {"student": student, "heads": heads},
                                             {"student": opt_s, "heads": opt_d})
        names = [n for n, _ in student.named_parameters()]
        ema.shadow_params = [emas["student"][n].clone() for n in names]
        ema.optimization_step = int(state.get("ema_step", start))
        logger.info("resumed distillation from %s (step %d)", ckpt, start)
    # The whole discriminator is prepared (not just the heads) so that, under DDP, the calls below
    # go through the wrapper and the heads' gradients are synchronised; the frozen encoder is skipped.
    student, opt_s, disc, opt_d = acc.prepare(student, opt_s, disc, opt_d)

    def teacher_target(x: torch.Tensor, sigma: float | torch.Tensor, states, mask, pooled, fps) -> torch.Tensor:
        """The guided teacher's clean sample from ``x`` at ``sigma`` (Euler on the teacher's own shifted schedule);
        ``sigma`` (B, F) gives every frame its own level, and its highest level sets the number of steps."""
        start_u = unshift_sigma(float(torch.as_tensor(sigma).max()), shift)
        n = max(1, round(cfg.teacher_steps * start_u))
        n_states, n_pooled, n_mask = (t.to(x.device) for t in text([""] * x.shape[0]))
        both_states, both_pooled = torch.cat([states, n_states]), torch.cat([pooled, n_pooled])
        both_mask = torch.cat([mask, n_mask])

        def velocity(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            v = teacher(torch.cat([z, z]), torch.cat([t, t]), both_states, encoder_attention_mask=both_mask,
                        pooled_text=both_pooled, fps=torch.cat([fps, fps]))
            return combine_guidance(*v.chunk(2), cfg.teacher_guidance)

        if isinstance(sigma, torch.Tensor):
            return euler_per_frame(velocity, x, sigma, n, shift)
        return sample(velocity, x, shift_sigmas(torch.linspace(start_u, 0.0, n + 1), shift), EULER)

    bar = tqdm(total=cfg.steps, initial=start, desc="distill", disable=not acc.is_local_main_process,
               dynamic_ncols=True)
    for step in range(start, cfg.steps):
        batch = batches(step)
        video = batch["video"].to(acc.device)
        b = video.shape[0]
        with torch.no_grad(), acc.autocast():
            x0 = vae.encode(video).float()
        states, pooled, mask = (t.to(acc.device) for t in text(batch["caption"]))
        fps = torch.full((b,), float(model_cfg.fps), device=acc.device)
        level = int(torch.randint(len(sigmas), (1,), generator=step_generator(cfg.seed, step, rank, _LEVEL)))
        sigma = sigmas[level]
        noise = torch.randn(x0.shape, generator=step_generator(cfg.seed, step, rank, _NOISE)).to(x0)
        sigma_b = torch.full((b,), sigma, device=acc.device)
        frames = x0.shape[1]
        staircase = cfg.per_block_levels > 0 and frames >= len(sigmas) and \
            float(torch.rand(1, generator=step_generator(cfg.seed, step, rank, _BLOCKS))) < cfg.per_block_levels
        if staircase:
            sigma_b = staircase_levels(sigmas, frames).to(acc.device).expand(b, -1)  # (B, F)
        own = not staircase and level > 0 and cfg.backward_simulation > 0 and \
            float(torch.rand(1, generator=step_generator(cfg.seed, step, rank, _BACKSIM))) < cfg.backward_simulation
        if own:
            with torch.no_grad(), acc.autocast():
                x_t = own_input(
                    partial(student, encoder_hidden_states=states, encoder_attention_mask=mask, pooled_text=pooled,
                            fps=fps),
                    noise, sigmas, level, step_generator(cfg.seed, step, rank, _BACKSIM_NOISE)).float()
        else:
            x_t = add_noise(x0, noise, sigma_b)
        t_student = sigma_b * TIMESTEP_SCALE
        with torch.no_grad(), acc.autocast():
            # The frozen teacher is not prepared by accelerate, so it runs under the run's autocast here.
            target = teacher_target(x_t, sigma_b if staircase else sigma, states, mask, pooled, fps).float() \
                if cfg.recon_weight > 0 else None
        v = student(x_t, t_student, states, encoder_attention_mask=mask, pooled_text=pooled, fps=fps)
        x0_s = clean_estimate(x_t, v, sigma_b.reshape(*sigma_b.shape, *[1] * (x_t.dim() - sigma_b.dim())))

        # Discriminator inputs, re-noised to a sampled level (LADD).
        t_d = sample_times(b, step_generator(cfg.seed, step, rank, _RENOISE), cfg.renoise_mean,
                           cfg.renoise_std).to(acc.device)
        eps_real = torch.randn(x0.shape, generator=step_generator(cfg.seed, step, rank, _R1)).to(x0)
        eps_fake = torch.randn(x0.shape, generator=step_generator(cfg.seed, step, rank, _FAKE)).to(x0)
        real = add_noise(x0, eps_real, t_d)
        logs: dict[str, float] = {"student_sigma": sigma, "own_input": float(own), "staircase": float(staircase)}

        cond = (t_d * TIMESTEP_SCALE, states, mask, pooled, fps)
        loss_d = torch.zeros(())
        if cfg.adv_weight > 0:
            disc.train()
            batches_d = [real, add_noise(x0_s.detach(), eps_fake, t_d)]
            if cfg.r1_weight > 0:
                jitter = torch.randn(real.shape, generator=step_generator(cfg.seed, step, rank, _R1 + 100)).to(real)
                batches_d.append(real + cfg.r1_sigma * jitter)
            d_real, d_fake, *d_jit = _scores(disc, batches_d, cond)
            # Hinge loss per head (LADD), averaged over heads and clips.
            loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
            if d_jit:
                # Approximate R1 (LADD): penalise the logit's change under a small input perturbation.
                loss_d = loss_d + cfg.r1_weight * ((d_jit[0] - d_real) ** 2).mean() / cfg.r1_sigma**2
            if not torch.isfinite(loss_d):
                raise MobilevidError(f"distill: discriminator loss is {loss_d.item()} at step {step}; stopping")
            opt_d.zero_grad(set_to_none=True)
            acc.backward(loss_d)
            acc.clip_grad_norm_(list(heads.parameters()), cfg.grad_clip)
            opt_d.step()
            logs.update(loss_d=float(loss_d.detach()), d_real=float(d_real.detach().mean()), d_fake=float(d_fake.detach().mean()))

        loss_g = torch.zeros(())
        if cfg.adv_weight > 0:
            disc.eval()
            adv = -_scores(disc, [add_noise(x0_s, eps_fake, t_d)], cond)[0].mean()
            loss_g = loss_g + cfg.adv_weight * adv
            logs["loss_adv"] = float(adv.detach())
        if target is not None:
            rec = pseudo_huber(x0_s, target)
            loss_g = loss_g + cfg.recon_weight * rec
            logs["loss_recon"] = float(rec.detach())
        if not torch.isfinite(loss_g):
            raise MobilevidError(f"distill: student loss is {loss_g.item()} at step {step}; stopping")
        opt_s.zero_grad(set_to_none=True)
        acc.backward(loss_g)
        acc.clip_grad_norm_(s_params, cfg.grad_clip)
        opt_s.step()
        ema.step(s_params)
        logs["loss_student"] = float(loss_g.detach())

        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            acc.log({f"distill/{k}": v for k, v in logs.items()}, step=done)
        bar.set_postfix(g=f"{logs['loss_student']:.4f}", d=f"{float(loss_d.detach()):.3f}")
        bar.update(1)
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            acc.wait_for_everyone()
            if acc.is_main_process:
                names = [n for n, _ in acc.unwrap_model(student).named_parameters()]
                save_checkpoint(ckpt_root, done, {"student": acc.unwrap_model(student), "heads": acc.unwrap_model(heads)},
                                {"student": opt_s, "heads": opt_d},
                                {"student": dict(zip(names, ema.shadow_params, strict=True))},
                                {"ema_step": ema.optimization_step}, keep=cfg.keep_checkpoints)
            acc.wait_for_everyone()
    bar.close()
    acc.end_training()

    final = copy.deepcopy(acc.unwrap_model(student)).eval()
    ema.copy_to(final.parameters())
    model_dir = out / "model"
    if acc.is_main_process:
        student_cfg = copy.deepcopy(model_cfg)
        student_cfg.sampling.steps = len(sigmas)
        student_cfg.sampling.guidance = 1.0  # guidance is baked in
        # Distillation trains without the visual condition: the student does not inherit the teacher's
        # record of first/last-frame training; it has per-block levels only if this run gave them.
        student_cfg.trained_for = TrainedFor(per_frame_times=cfg.per_block_levels > 0)
        Pipeline(student_cfg, final, vae, teacher_pipe.text_encoder, teacher_pipe.scheduler,
                 fixed_sigmas=sigmas).save_pretrained(model_dir, overwrite=True)
    return model_dir


def distill_phases(phases: list, teacher_dir: str | Path, output: str | Path, resume: bool = False,
                   argv: list[str] | None = None) -> Path:
    """Run a distillation recipe of several phases (``mobilevid/training/phases.py``) from one teacher, each
    phase warm-started from the student of the one before (``student_init``); returns ``output/model``."""
    from mobilevid.seeding import record_run
    from mobilevid.training.phases import run_phases

    return run_phases(phases, output, resume, "student_init",
                      lambda c, d, r: distill(c, teacher_dir, d, resume=r, argv=argv),
                      lambda out, resolved: record_run(out, {**resolved, "teacher": str(teacher_dir)}, argv,
                                                       kind="distill"))
