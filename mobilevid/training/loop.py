"""The training loop both stages share: accelerate, AdamW with warm-up, EMA, clipping, a NaN/Inf guard,
atomic checkpoints, exact resume, TensorBoard and a tqdm bar.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from diffusers.training_utils import EMAModel
from tqdm.auto import tqdm

from mobilevid.errors import MobilevidError
from mobilevid.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint

logger = logging.getLogger("mobilevid.train")


@dataclass
class LoopSettings:
    name: str  # stage name: "vae" or "denoiser"
    steps: int
    lr: float
    warmup_steps: int = 0
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float | None = None
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    log_every: int = 25
    lr_scales: dict[str, float] = field(default_factory=dict)  # parameter-name prefix -> learning-rate multiplier


def _param_groups(model: torch.nn.Module, lr_scales: dict[str, float]) -> list[dict]:
    """One AdamW group per learning-rate multiplier: a parameter takes the first prefix of ``lr_scales`` it starts with."""
    groups: dict[float, list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            scale = next((float(v) for k, v in lr_scales.items() if name.startswith(k)), 1.0)
            groups.setdefault(scale, []).append(p)
    return [{"params": ps, "lr_scale": scale} for scale, ps in groups.items()]


def run_loop(
    accelerator: Accelerator,
    model: torch.nn.Module,
    loss_fn: Callable[[torch.nn.Module, int], tuple[torch.Tensor, dict[str, float]]],
    settings: LoopSettings,
    stage_dir: Path,
    resume: bool,
) -> tuple[torch.nn.Module, dict[str, torch.Tensor] | None]:
    """Train ``model`` for ``settings.steps`` steps; returns the unwrapped model and its EMA weights."""
    params = [p for p in model.parameters() if p.requires_grad]
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(_param_groups(model, settings.lr_scales), lr=settings.lr,
                                  weight_decay=settings.weight_decay)
    ema = EMAModel(params, decay=settings.ema_decay) if settings.ema_decay else None
    ckpt_root = stage_dir / "checkpoints"

    start = 0
    if resume and (ckpt := latest_checkpoint(ckpt_root)) is not None:
        start, emas, state = load_checkpoint(ckpt, {"model": model}, {"model": optimizer})
        ema_state = emas.get("model")
        if ema is not None:
            if ema_state is None:
                raise MobilevidError(f"checkpoint {ckpt} has no EMA weights")
            ema.shadow_params = [ema_state[n].clone() for n in names]
            ema.optimization_step = int(state.get("ema_step", start))
        logger.info("resumed %s stage from %s (step %d)", settings.name, ckpt, start)
    elif resume:
        logger.info("no checkpoint in %s; starting the %s stage from scratch", ckpt_root, settings.name)

    model, optimizer = accelerator.prepare(model, optimizer)
    bar = tqdm(total=settings.steps, initial=start, desc=f"train {settings.name}",
               disable=not accelerator.is_local_main_process, dynamic_ncols=True)
    for step in range(start, settings.steps):
        # Linear warm-up, a pure function of the step (nothing to save for resume).
        lr = settings.lr * min(1.0, (step + 1) / max(1, settings.warmup_steps)) if settings.warmup_steps else settings.lr
        for group in optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        model.train()
        loss, logs = loss_fn(model, step)
        if not torch.isfinite(loss):
            bar.close()
            raise MobilevidError(f"{settings.name} stage: loss is {loss.item()} at step {step}; stopping "
                                 "(lower the learning rate or check the data)")
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        grad_norm = accelerator.clip_grad_norm_(params, settings.grad_clip) if settings.grad_clip else None
        optimizer.step()
        if ema is not None:
            ema.step(params)
        done = step + 1
        logs = {"loss": float(loss.detach()), "lr": lr, **logs}
        if grad_norm is not None:
            logs["grad_norm"] = float(grad_norm)
        if done % settings.log_every == 0 or done == settings.steps:
            accelerator.log({f"{settings.name}/{k}": v for k, v in logs.items()}, step=done)
        bar.set_postfix(loss=f"{logs['loss']:.4f}")
        bar.update(1)
        if done % settings.checkpoint_every == 0 or done == settings.steps:
            accelerator.wait_for_everyone()
            if accelerator.is_main_process:
                ema_state = dict(zip(names, ema.shadow_params, strict=True)) if ema is not None else None
                save_checkpoint(ckpt_root, done, {"model": accelerator.unwrap_model(model)}, {"model": optimizer},
                                {"model": ema_state} if ema_state is not None else None,
                                {"stage": settings.name, "ema_step": ema.optimization_step if ema else 0},
                                keep=settings.keep_checkpoints)
            accelerator.wait_for_everyone()
    bar.close()
    model = accelerator.unwrap_model(model)
    ema_state = dict(zip(names, ema.shadow_params, strict=True)) if ema is not None else None
    return model, ema_state
