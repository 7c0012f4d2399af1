"""Recovery after pruning: a short distillation of the pruned component from the unpruned one.

Runs on the shared training loop (accelerate, AdamW, optional EMA, atomic checkpoints, exact
``--resume``); the objectives are in ``objectives.py``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from mobilevid.artifacts import read_json
from mobilevid.config import from_dict, to_dict
from mobilevid.models.presets import ModelConfig
from mobilevid.pruning.objectives import DecoderMatching, DenoiserMatching
from mobilevid.pruning.prune import RECORD, load_component, model_fixed_sigmas, write_model
from mobilevid.pruning.prune_config import PruneConfig
from mobilevid.training.loop import LoopSettings, run_loop
from mobilevid.training.run_setup import start_run

logger = logging.getLogger("mobilevid.prune")


def recover(cfg: PruneConfig, teacher_dir: Path, pruned_dir: Path, out: Path, resume: bool,
            argv: list[str] | None = None) -> Path:
    """Distil the pruned component in ``pruned_dir`` from ``teacher_dir``'s; write ``out/model``."""
    r = cfg.recover
    acc = start_run(out, r.mixed_precision, cfg.seed, {"model": str(teacher_dir), **to_dict(cfg)}, argv, "prune")
    model_cfg = from_dict(ModelConfig, read_json(pruned_dir / "model_index.json"))
    teacher = load_component(teacher_dir, cfg.component)
    student = load_component(pruned_dir, cfg.component)
    if cfg.component == "vae_decoder":
        student.requires_grad_(True)
        student.vae.encoder.requires_grad_(False)  # the latent space stays: the denoiser was trained on it
        if student.vae.quant_conv is not None:
            student.vae.quant_conv.requires_grad_(False)
        objective = DecoderMatching(teacher, model_cfg, cfg.data, r, cfg.seed, acc.device)
    else:
        student.requires_grad_(True)
        vae = load_component(teacher_dir, "vae_decoder")
        objective = DenoiserMatching(teacher, vae, model_cfg, model_fixed_sigmas(pruned_dir), cfg.data, r, cfg.seed,
                                     acc.device)
    settings = LoopSettings(f"recover_{cfg.component}", r.steps, r.lr, r.warmup_steps, 0.0, r.grad_clip,
                            r.ema_decay, r.checkpoint_every, r.keep_checkpoints, r.log_every)
    student, ema_state = run_loop(acc, student, objective, settings, out / "stages" / "recover", resume)
    if ema_state is not None:
        student.load_state_dict({**student.state_dict(), **ema_state})
    student = student.eval().requires_grad_(False).cpu()
    dest = out / "model"
    if acc.is_main_process:
        record = {**read_json(pruned_dir / RECORD), "recovery_steps": r.steps}
        with torch.no_grad():
            write_model(pruned_dir, dest, model_cfg, cfg.component, student, record)
        logger.info("wrote %s", dest)
    acc.wait_for_everyone()
    return dest
