"""``mobilevid prune``: structured pruning of the denoiser or the VAE decoder, then a short recovery distillation.

SnapGen-V starts from a compact backbone pruned from a larger one and prunes its VAE decoder
separately; SnapFusion (Li et al. 2023) prunes its decoder and recovers it by distillation
from the unpruned one. Run folder::

    run.json                              resolved recipe, command line, versions
    stages/prune/model/                   the pruned model before recovery (when recovery runs)
    stages/recover/checkpoints/step-*/    atomic checkpoints for --resume
    model/                                the result: an ordinary model folder (Pipeline.from_pretrained)
    logs/                                 TensorBoard

The model folder's config holds the pruned widths, so ``from_pretrained`` rebuilds the same
shapes, and ``pruned_from.json`` records where it came from.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path
from typing import Any

import torch

from mobilevid.artifacts import atomic_dir, read_json, write_json
from mobilevid.config import from_dict, to_dict
from mobilevid.errors import MobilevidError
from mobilevid.models.presets import ModelConfig
from mobilevid.models.vae import VideoVAE
from mobilevid.models.video_unet import VideoUNet
from mobilevid.pipeline import resolve_model_dir
from mobilevid.pruning.component_pruning import prune_denoiser, prune_vae_decoder, pruned_model_config
from mobilevid.pruning.importance import make_importance
from mobilevid.pruning.prune_config import PruneConfig
from mobilevid.seeding import record_run, seed_everything

logger = logging.getLogger("mobilevid.prune")

RECORD = "pruned_from.json"
_FOLDER = {"denoiser": "denoiser", "vae_decoder": "vae"}


def model_fixed_sigmas(model_dir: Path) -> list[float] | None:
    return read_json(model_dir / "scheduler" / "scheduler_config.json").get("sigmas")


def component_widths(model_cfg: ModelConfig, component: str) -> dict[str, Any]:
    """The config fields pruning changes for ``component`` (what ``pruned_from.json`` records before and after)."""
    if component == "denoiser":
        d = model_cfg.denoiser
        return {"block_out_channels": list(d.block_out_channels), "attention_heads": list(d.attention_heads),
                "norm_num_groups": d.norm_num_groups}
    v = model_cfg.vae
    return {"decoder_block_out_channels": list(v.decoder_block_out_channels or v.block_out_channels),
            "decoder_norm_num_groups": v.decoder_norm_num_groups or v.norm_num_groups}


def component_parameters(module: torch.nn.Module, component: str) -> int:
    part = module.decoder_modules() if component == "vae_decoder" else module
    return sum(p.numel() for p in part.parameters())


def load_component(model_dir: Path, component: str) -> torch.nn.Module:
    if component == "denoiser":
        return VideoUNet.from_pretrained(model_dir / "denoiser")
    return VideoVAE.from_pretrained(model_dir / "vae")


def write_model(source: Path, dest: Path, model_cfg: ModelConfig, component: str, module: torch.nn.Module,
                record: dict[str, Any]) -> Path:
    """``source``'s model folder with ``component`` replaced by ``module``, written atomically to ``dest``."""
    folder = _FOLDER[component]
    # Only a resumed run finds an earlier model here (a new run needs an empty run folder).
    with atomic_dir(dest, overwrite=True, marker="model_index.json", what="model folder") as tmp:
        for entry in source.iterdir():
            if entry.name in (folder, "model_index.json", RECORD) or entry.name.startswith("."):
                continue
            (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, tmp / entry.name)
        if component == "denoiser":
            model_cfg.denoiser = module.config
        else:
            model_cfg.vae = module.config
        write_json(tmp / "model_index.json", to_dict(model_cfg))
        module.save_pretrained(tmp / folder)
        write_json(tmp / RECORD, record)
    return dest


def check_request(cfg: PruneConfig, model: str | Path | None) -> tuple[Path, ModelConfig, ModelConfig]:
    """Everything that can be checked before work: (model folder, its config, the pruned config)."""
    if cfg.component not in _FOLDER:
        raise MobilevidError(f"unknown component '{cfg.component}' (valid: {', '.join(_FOLDER)})")
    make_importance(cfg.importance)
    if cfg.recover.steps < 0:
        raise MobilevidError(f"recovery steps must be at least 0, got {cfg.recover.steps}")
    if cfg.calibration_batches < 1:
        raise MobilevidError(f"calibration_batches must be at least 1, got {cfg.calibration_batches}")
    for name in ("own_levels_prob", "trajectory_prob", "caption_dropout"):
        if not 0 <= getattr(cfg.recover, name) <= 1:
            raise MobilevidError(f"recover.{name} must be in [0, 1], got {getattr(cfg.recover, name)}")
    if cfg.recover.trajectory_prob > 0 and cfg.recover.data_weight > 0:
        raise MobilevidError("recover.data_weight scores against the real clip behind each input, which the "
                             "student's own sampling states lack: use it with recover.trajectory_prob=0")
    source = resolve_model_dir(model)
    model_cfg = from_dict(ModelConfig, read_json(source / "model_index.json"))
    if cfg.recover.trajectory_prob > 0 and (cfg.component != "denoiser" or not model_fixed_sigmas(source)):
        raise MobilevidError("recover.trajectory_prob needs the denoiser of a distilled student (a model with fixed "
                             f"noise levels); {source} {'has none' if cfg.component == 'denoiser' else 'prunes the VAE decoder'}")
    return source, model_cfg, pruned_model_config(model_cfg, cfg.component, cfg.ratio)


def prune_model(cfg: PruneConfig, source: Path, model_cfg: ModelConfig, dest: Path) -> Path:
    """Prune ``cfg.component`` of the model in ``source`` and write the pruned model folder to ``dest``."""
    seed_everything(cfg.seed)
    module = load_component(source, cfg.component)
    before = component_parameters(module, cfg.component)
    if cfg.component == "denoiser":
        vae = VideoVAE.from_pretrained(source / "vae")
        pruned = prune_denoiser(module, model_cfg, cfg, model_fixed_sigmas(source), vae)
    else:
        pruned = prune_vae_decoder(module, model_cfg, cfg)
    after = component_parameters(pruned, cfg.component)
    new_cfg = dataclasses.replace(model_cfg)
    record = {
        "source": str(source), "component": cfg.component, "ratio": cfg.ratio, "importance": cfg.importance,
        "widths_before": component_widths(model_cfg, cfg.component),
        "widths_after": component_widths(pruned_model_config(model_cfg, cfg.component, cfg.ratio), cfg.component),
        "parameters_before": before, "parameters_after": after, "recovery_steps": 0,
    }
    logger.info("pruned %s: %.3fM -> %.3fM parameters", cfg.component, before / 1e6, after / 1e6)
    return write_model(source, dest, new_cfg, cfg.component, pruned, record)


def run_prune(cfg: PruneConfig, model: str | Path | None, output: str | Path, resume: bool = False,
              argv: list[str] | None = None) -> Path:
    """Prune, then recover for ``cfg.recover.steps`` steps; returns the result model folder ``OUTPUT/model``."""
    out = Path(output)
    source, model_cfg, _ = check_request(cfg, model)
    if out.exists() and not out.is_dir():
        raise MobilevidError(f"{out} is a file, not a run folder: choose another output")
    if out.exists() and any(out.iterdir()) and not resume:
        raise MobilevidError(f"output folder {out} is not empty: pass --resume to continue it, or choose another")
    recovering = cfg.recover.steps > 0
    pruned_dir = out / "stages" / "prune" / "model" if recovering else out / "model"
    record_run(out, {"model": str(source), **to_dict(cfg)}, argv)
    if resume and (pruned_dir / RECORD).is_file():
        done = read_json(pruned_dir / RECORD)
        if (done["component"], done["ratio"]) != (cfg.component, cfg.ratio):
            raise MobilevidError(f"{pruned_dir} holds {done['component']} pruned by {done['ratio']}, this run asks "
                                 f"for {cfg.component} by {cfg.ratio}: choose another output folder")
        logger.info("pruning already done: %s", pruned_dir)
    else:
        prune_model(cfg, source, model_cfg, pruned_dir)
    if not recovering:
        return pruned_dir
    from mobilevid.pruning.recover import recover

    return recover(cfg, source, pruned_dir, out, resume, argv)
