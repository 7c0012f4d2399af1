"""``mobilevid train``: the VAE stage, then the denoiser stage (the teacher), on HF accelerate.

One process by default; ``accelerate launch --num_processes N -m mobilevid.cli.main train ...``
runs data-parallel on several GPUs or CPU processes (gloo). Output folder::

    run.json                   resolved config, command line, versions
    vae/                       the trained VAE (config.json + model.safetensors)
    model/                     the trained text-to-video model folder (Pipeline.from_pretrained)
    stages/{vae,denoiser}/checkpoints/step-*/   atomic checkpoints for --resume
    logs/                      TensorBoard
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from diffusers import FlowMatchEulerDiscreteScheduler

from mobilevid.artifacts import (
    CONFIG_NAME,
    check_state_dict,
    load_module_weights,
    load_tensors,
    read_json,
    write_json,
)
from mobilevid.config import from_dict, to_dict
from mobilevid.data.long_clips import dataset_strides
from mobilevid.errors import MobilevidError
from mobilevid.models.arch_spec import load_arch, parse_arch
from mobilevid.models.inflate import INFLATED_RECORD
from mobilevid.models.presets import ModelConfig, SamplingConfig, get_preset
from mobilevid.models.rectified_flow import TIMESTEP_SCALE, add_noise, flow_loss, sample_times
from mobilevid.models.text_encoder import TextEncoder
from mobilevid.models.vae import VideoVAE
from mobilevid.models.video_unet import NEW_AFTER_INFLATION, VideoUNet
from mobilevid.pipeline import resolve_model_dir
from mobilevid.seeding import record_run
from mobilevid.training.batches import StepBatches, step_generator, training_data
from mobilevid.training.layout_stage import layout_stage
from mobilevid.training.loop import LoopSettings, run_loop
from mobilevid.training.phases import Phase, run_phases
from mobilevid.training.run_setup import start_run
from mobilevid.training.text_cache import TextCache
from mobilevid.training.train_config import DenoiserStageConfig, TrainConfig

logger = logging.getLogger("mobilevid.train")

_NOISE, _TIME, _DROP, _COND, _VAE, _TERMINAL, _PER_FRAME = 1, 2, 3, 4, 5, 6, 7
STAGES = ("vae", "vae_decoder", "layout", "denoiser")  # in the order they run


def _model_config(cfg: TrainConfig) -> ModelConfig:
    if cfg.init_from is not None:
        # Fine-tuning: the starting model's architecture, not the preset's.
        model_cfg = from_dict(ModelConfig, read_json(resolve_model_dir(cfg.init_from) / "model_index.json"))
    else:
        model_cfg = get_preset(cfg.preset)
    for flag in ("frame_text_conditioning", "position_embedding", "frame_layout_conditioning", "freeze_backbone"):
        if getattr(cfg, flag) is not None:  # None keeps the preset's / starting model's choice
            setattr(model_cfg.denoiser, flag, getattr(cfg, flag))
    if cfg.height is not None or cfg.width is not None:
        _set_frame_size(model_cfg, cfg.height or model_cfg.height, cfg.width or model_cfg.width)
    if cfg.arch is not None:
        parse_arch(cfg.arch, model_cfg.denoiser)  # one-line error on a bad spec before any work starts
        model_cfg.denoiser.arch = load_arch(cfg.arch) if isinstance(cfg.arch, str) else dict(cfg.arch)
    if cfg.num_frames is not None:
        if cfg.num_frames < 1:
            raise MobilevidError(f"num_frames must be at least 1, got {cfg.num_frames}")
        model_cfg.num_frames = cfg.num_frames
        model_cfg.denoiser.num_frames = cfg.num_frames
    model_cfg.sampling = SamplingConfig(steps=cfg.sample_steps, guidance=cfg.sample_guidance)
    try:  # the overrides above bypass the dataclasses' own checks: run them again, as one-line errors
        model_cfg.denoiser.__post_init__()
        model_cfg.__post_init__()
    except ValueError as err:
        raise MobilevidError(f"model config ({model_cfg.height}x{model_cfg.width} pixels): {err}") from None
    if cfg.height is not None or cfg.width is not None:
        parse_arch(model_cfg.denoiser.arch, model_cfg.denoiser)  # 3D attention's token bound depends on the size
    return model_cfg


def _set_frame_size(model_cfg: ModelConfig, height: int, width: int) -> None:
    """Train at ``height`` x ``width`` pixels: the denoiser's latent grid follows (any aspect ratio)."""
    down = model_cfg.vae.downsample
    if height < 1 or width < 1 or height % down or width % down:
        raise MobilevidError(f"height and width must be positive multiples of the VAE's downsampling factor "
                             f"{down}, got {height}x{width}")
    model_cfg.height, model_cfg.width = height, width
    model_cfg.denoiser.latent_height, model_cfg.denoiser.latent_width = height // down, width // down


def reconstruction_loss(recon: torch.Tensor, x: torch.Tensor, mse_weight: float, object_weight: float) -> torch.Tensor:
    """L1 + ``mse_weight`` * L2, with extra weight on pixels unlike their frame's median colour.

    The built-in clips are small objects on a plain backdrop (~5% of a frame): an unweighted
    loss learns their colour last. ``x``, ``recon``: (N, 3, H, W) in [-1, 1].
    """
    err = (recon - x).abs()
    median = x.flatten(2).median(dim=2).values[:, :, None, None]
    weight = 1 + object_weight * (x - median).abs().mean(1, keepdim=True).clamp(max=1.0)
    return (weight * (err + mse_weight * err * err)).mean() / weight.mean()


def _vae_stage(acc: Accelerator, cfg: TrainConfig, model_cfg: ModelConfig, out: Path, resume: bool) -> VideoVAE:
    vae_dir = out / "vae"
    if resume and (vae_dir / "config.json").is_file():
        logger.info("VAE stage already finished: %s", vae_dir)
        return VideoVAE.from_pretrained(vae_dir)
    s = cfg.vae
    torch.manual_seed(cfg.seed)
    vae = VideoVAE(model_cfg.vae)
    frames = min(s.frames, model_cfg.num_frames)
    data = training_data(cfg.data, model_cfg, cfg.seed, cfg.data_crop, num_frames=frames)
    batches = StepBatches(data, s.batch_size, cfg.seed, 0.0, acc.process_index, acc.num_processes)

    def loss_fn(model: torch.nn.Module, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        video = batches(step)["video"].to(acc.device)  # (B, F, 3, H, W)
        b, f = video.shape[:2]
        x = video.reshape(b * f, *video.shape[2:])
        core = model.module if hasattr(model, "module") else model
        posterior = core.encode_distribution(x)
        z = posterior.mean
        if s.sample_posterior:
            eps = torch.randn(posterior.mean.shape, generator=step_generator(cfg.seed, step, acc.process_index, _VAE))
            z = z + posterior.std * eps.to(x.device)
        rec = reconstruction_loss(core.decode_frames(z, f), x, s.mse_weight, s.object_weight)
        kl = posterior.kl().mean()  # summed over latent elements, averaged over frames
        return rec + s.kl_weight * kl, {"l1": float(rec.detach()), "kl": float(kl.detach())}

    settings = LoopSettings("vae", s.steps, s.lr, grad_clip=1.0, checkpoint_every=cfg.checkpoint_every,
                            keep_checkpoints=cfg.keep_checkpoints, log_every=cfg.log_every)
    vae, _ = run_loop(acc, vae, loss_fn, settings, out / "stages" / "vae", resume)
    # Scale latents to unit variance (LDM's scale_factor), measured on training clips.
    with torch.no_grad():
        zs = [vae.encode(batches(10_000 + i)["video"]) for i in range(8)]
    vae.config.scaling_factor = float(1.0 / torch.cat([z.flatten() for z in zs]).std())
    vae.config.shift_factor = 0.0
    if acc.is_main_process:
        vae.save_pretrained(vae_dir)
    acc.wait_for_everyone()
    logger.info("VAE stage done: latent scaling factor %.4f", vae.config.scaling_factor)
    return vae


def _vae_decoder_stage(acc: Accelerator, cfg: TrainConfig, model_cfg: ModelConfig, vae: VideoVAE, out: Path,
                       resume: bool) -> VideoVAE:
    """Fine-tune the decoder (and its temporal convs) of a trained VAE; the encoder stays frozen."""
    done = out / "vae" / "decoder_finetuned.json"
    if resume and done.is_file():
        logger.info("VAE decoder stage already finished: %s", out / "vae")
        return VideoVAE.from_pretrained(out / "vae")
    s = cfg.vae_decoder
    if s.block_out_channels is not None:
        vae = _with_new_decoder(vae, tuple(s.block_out_channels), cfg.seed + 3)
    vae.train().requires_grad_(True)
    vae.vae.encoder.requires_grad_(False)
    if vae.vae.quant_conv is not None:
        vae.vae.quant_conv.requires_grad_(False)
    frames = min(s.frames, model_cfg.num_frames)
    data = training_data(cfg.data, model_cfg, cfg.seed + 2, cfg.data_crop, num_frames=frames)
    batches = StepBatches(data, s.batch_size, cfg.seed + 2, 0.0, acc.process_index, acc.num_processes)

    def loss_fn(model: torch.nn.Module, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        video = batches(step)["video"].to(acc.device)
        b, f = video.shape[:2]
        x = video.reshape(b * f, *video.shape[2:])
        core = model.module if hasattr(model, "module") else model
        with torch.no_grad():
            z = core.encode_distribution(x).mean
        recon = core.decode_frames(z, f)
        loss = reconstruction_loss(recon, x, s.mse_weight, s.object_weight)
        return loss, {"l1": float((recon - x).abs().mean().detach())}

    settings = LoopSettings("vae_decoder", s.steps, s.lr, grad_clip=1.0, checkpoint_every=cfg.checkpoint_every,
                            keep_checkpoints=cfg.keep_checkpoints, log_every=cfg.log_every)
    vae, _ = run_loop(acc, vae, loss_fn, settings, out / "stages" / "vae_decoder", resume)
    vae.eval().requires_grad_(False)
    if acc.is_main_process:
        vae.save_pretrained(out / "vae", overwrite=True)  # the VAE stage's, in this run folder
        write_json(done, {"steps": s.steps})
    acc.wait_for_everyone()
    return vae


def _with_new_decoder(vae: VideoVAE, channels: tuple[int, ...], seed: int) -> VideoVAE:
    """A copy of ``vae`` whose decoder (and its temporal convs) is new, with ``channels``; the encoder is kept."""
    torch.manual_seed(seed)
    light = VideoVAE(dataclasses.replace(vae.config, decoder_block_out_channels=channels))
    own = light.state_dict()
    keep = {k: v for k, v in vae.state_dict().items()
            if not k.startswith(("vae.decoder.", "temporal.")) and k in own and own[k].shape == v.shape}
    light.load_state_dict({**own, **keep})
    logger.info("new decoder %s: %.2fM parameters (was %.2fM)", channels,
                sum(p.numel() for p in light.vae.decoder.parameters()) / 1e6,
                sum(p.numel() for p in vae.vae.decoder.parameters()) / 1e6)
    return light


def match_temporal_layers(tensors: dict[str, torch.Tensor], source: dict[int, list[str]],
                          target: dict[int, list[str]]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Rename a trained model's temporal tensors to the slot positions another arch gives the same layers.

    Temporal layers are named ``temporal.SLOT.INDEX``: the k-th layer of a candidate in a slot maps
    to the k-th layer of that candidate in the same slot of the new arch. Layers the new arch leaves
    out (a searched arch may drop some) are dropped, and the fine-tune recovers what they did.
    """
    moves: dict[str, str | None] = {}
    for slot, names in source.items():
        wanted = target.get(slot, [])
        for i, name in enumerate(names):
            k = names[:i].count(name)
            places = [j for j, other in enumerate(wanted) if other == name]
            moves[f"temporal.{slot}.{i}."] = f"temporal.{slot}.{places[k]}." if k < len(places) else None
    out, dropped = {}, []
    for key, value in tensors.items():
        prefix = next((p for p in moves if key.startswith(p)), None)
        if prefix is None:
            out[key] = value
        elif moves[prefix] is None:
            dropped.append(key)
        else:
            out[moves[prefix] + key[len(prefix):]] = value
    return out, dropped


def load_starting_weights(denoiser: VideoUNet, path: Path) -> None:
    """Load a trained denoiser into ``denoiser``, whose arch may hold more temporal layers.

    Every saved tensor must fit (name and shape), but temporal layers the arch leaves out; tensors the file lacks may only belong to
    modules that start as identity (``VideoUNet.new_after_inflation``: temporal layers, the
    per-frame text and position embeddings, ...), so the model starts as the trained one (the
    inflation argument of AnimateDiff / SnapGen-V applied to added layers).
    """
    tensors = load_tensors(path)
    own = denoiser.state_dict()
    source_config = Path(path).parent / CONFIG_NAME
    if source_config.is_file():
        source = VideoUNet.from_config_file(Path(path).parent).config
        tensors, dropped = match_temporal_layers(tensors, parse_arch(source.arch, source),
                                                 parse_arch(denoiser.config.arch, denoiser.config))
    else:
        dropped = []
    check_state_dict(own, tensors, path, allow_missing=tuple(f"{m}." for m in NEW_AFTER_INFLATION))
    new = [k for k in own if k not in tensors]
    denoiser.load_state_dict({**own, **tensors})
    logger.info("started from %s (%d tensors; %d new, in modules that start as identity; %d temporal tensors "
                "the arch leaves out)", path, len(tensors), len(new), len(dropped))


def training_times(batch: int, stage: DenoiserStageConfig, seed: int, step: int, rank: int) -> torch.Tensor:
    """Flow times (batch,) of one step: logit-normal (SD3), a ``terminal_time_prob`` share at t = 1 exactly."""
    t = sample_times(batch, step_generator(seed, step, rank, _TIME), stage.time_mean, stage.time_std)
    if stage.terminal_time_prob > 0:
        terminal = torch.rand(batch, generator=step_generator(seed, step, rank, _TERMINAL)) < stage.terminal_time_prob
        t = torch.where(terminal, torch.ones_like(t), t)
    return t


def per_frame_times(t: torch.Tensor, frames: int, stage: DenoiserStageConfig, seed: int, step: int,
                    rank: int) -> torch.Tensor:
    """(B,) clip times -> (B, F): a ``per_frame_time_prob`` share of clips gets an independent time per frame.

    Diffusion forcing (Chen et al. 2024) and FVDM's vectorised timesteps train on frames at
    distinct noise levels: the input FIFO-Diffusion's queue and the student's blocks give a
    model at inference, which clip-level times never show it.
    """
    t = t[:, None].expand(-1, frames)
    if stage.per_frame_time_prob <= 0 or frames < 2:
        return t
    g = step_generator(seed, step, rank, _PER_FRAME)
    chosen = torch.rand(t.shape[0], generator=g) < stage.per_frame_time_prob
    own = sample_times(t.numel(), g, stage.time_mean, stage.time_std).reshape(t.shape)
    return torch.where(chosen[:, None], own, t)


def batch_fps(batch: dict[str, Any], fps: float) -> torch.Tensor:
    """(B,) frame rates of a batch's clips: a long clip's frames ``stride`` apart play at fps / stride (NUWA-XL)."""
    b = batch["video"].shape[0]
    stride = batch.get("stride", torch.ones(b))
    return torch.full((b,), float(fps)) / stride.to(torch.float32)


def _denoiser_stage(acc: Accelerator, cfg: TrainConfig, model_cfg: ModelConfig, vae: VideoVAE, out: Path,
                    resume: bool) -> None:
    s = cfg.denoiser
    torch.manual_seed(cfg.seed + 1)
    denoiser = VideoUNet(model_cfg.denoiser)
    if cfg.init_from is not None:
        load_starting_weights(denoiser, resolve_model_dir(cfg.init_from) / "denoiser" / "model.safetensors")
    fitted_layout = out / "stages" / "layout" / "layout.safetensors"
    if fitted_layout.is_file():  # the layout stage's map (a resumed run's checkpoint then overrides it)
        if denoiser.frame_layout_embedding is None:
            raise MobilevidError(f"{fitted_layout} holds a layout map but the denoiser has none: "
                                 "set frame_layout_conditioning=true")
        load_module_weights(denoiser.frame_layout_embedding, fitted_layout)
        logger.info("the layout map starts from %s", fitted_layout)
    if model_cfg.denoiser.freeze_backbone:
        # Only the modules an image UNet lacks train; the loop optimises (and EMAs) trainable parameters only.
        denoiser.freeze_backbone()
        logger.info("backbone frozen: %.2fM of %.2fM parameters train",
                    sum(p.numel() for p in denoiser.parameters() if p.requires_grad) / 1e6,
                    sum(p.numel() for p in denoiser.parameters()) / 1e6)
    vae = vae.eval().requires_grad_(False).to(acc.device)
    text = TextCache(TextEncoder(model_cfg.text_encoder, model_cfg.text_max_length))
    data = training_data(cfg.data, model_cfg, cfg.seed, cfg.data_crop, strides=cfg.data_strides)
    batches = StepBatches(data, s.batch_size, cfg.seed, s.image_ratio, acc.process_index, acc.num_processes)
    rank = acc.process_index

    def loss_fn(model: torch.nn.Module, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        batch = batches(step)
        video = batch["video"].to(acc.device)
        b, f = video.shape[:2]
        # The frozen VAE follows the run's precision too: in bf16 its encoder is 2x faster on CPUs with AMX.
        with torch.no_grad(), acc.autocast():
            x0 = vae.encode(video).float()
        g_drop = step_generator(cfg.seed, step, rank, _DROP)
        drop = torch.rand(b, generator=g_drop) < s.caption_dropout
        captions = ["" if d else c for c, d in zip(batch["caption"], drop.tolist(), strict=True)]
        if "frame_captions" in batch and f > 1 and model_cfg.denoiser.frame_text_conditioning:
            # Long clips: each frame its own caption (B, F, L, D), as the long-video samplers call the model.
            flat = ["" if d else c for row, d in zip(batch["frame_captions"], drop.tolist(), strict=True) for c in row]
            states, pooled, mask = (t.reshape(b, f, *t.shape[1:]).to(acc.device) for t in text(flat))
        else:
            states, pooled, mask = (t.to(acc.device) for t in text(captions))
        noise = torch.randn(x0.shape, generator=step_generator(cfg.seed, step, rank, _NOISE)).to(acc.device)
        t = per_frame_times(training_times(b, s, cfg.seed, step, rank), f, s, cfg.seed, step, rank).to(acc.device)
        x_t = add_noise(x0, noise, t)
        fps = batch_fps(batch, model_cfg.fps).to(acc.device)
        cond = {}
        g_cond = step_generator(cfg.seed, step, rank, _COND)
        if f > 2 and s.visual_condition_prob > 0 and float(torch.rand(1, generator=g_cond)) < s.visual_condition_prob:
            # NUWA-XL local mode: first and last frames known, the middle generated.
            known = torch.zeros(b, f, device=acc.device)
            known[:, 0] = 1
            known[:, -1] = 1
            cond = {"cond_latents": x0, "cond_mask": known}
        pred = model(x_t, t * TIMESTEP_SCALE, states, encoder_attention_mask=mask, pooled_text=pooled, fps=fps, **cond)
        loss = flow_loss(pred, x0, noise)
        return loss, {"image_batch": float(f == 1)}

    settings = LoopSettings("denoiser", s.steps, s.lr, s.warmup_steps, s.weight_decay, s.grad_clip, s.ema_decay,
                            cfg.checkpoint_every, cfg.keep_checkpoints, cfg.log_every, s.lr_scales)
    denoiser, ema_state = run_loop(acc, denoiser, loss_fn, settings, out / "stages" / "denoiser", resume)
    if ema_state is not None:
        denoiser.load_state_dict({**denoiser.state_dict(), **ema_state})
    if acc.is_main_process:
        from mobilevid.pipeline import Pipeline

        # What this run trained for, beside what a starting model recorded (long-video methods read it).
        model_cfg.trained_for.visual_condition |= s.visual_condition_prob > 0
        model_cfg.trained_for.per_frame_times |= s.per_frame_time_prob > 0
        model_cfg.trained_for.frame_strides = sorted(set(model_cfg.trained_for.frame_strides) | set(dataset_strides(data)))
        model_cfg.vae = vae.config
        scheduler = FlowMatchEulerDiscreteScheduler(shift=cfg.sample_shift)
        pipe = Pipeline(model_cfg, denoiser.cpu(), vae.cpu(), text.encoder, scheduler)
        pipe.save_pretrained(out / "model", overwrite=True)  # a resumed, finished run writes it again
        logger.info("wrote %s", out / "model")
    acc.wait_for_everyone()


def starting_vae_is_fresh(init_from: str) -> bool:
    """Whether the model ``init_from`` names carries an untrained VAE (``mobilevid inflate`` without ``--vae``)."""
    record = resolve_model_dir(init_from) / INFLATED_RECORD
    return record.is_file() and read_json(record).get("vae") is None


def stages_to_run(cfg: TrainConfig) -> list[str]:
    """The recipe's ``stages``; by default every stage but ``layout`` from scratch, the denoiser alone from a
    trained model (``init_from``), and the VAE stages too when that model's VAE is fresh (an inflated model)."""
    if cfg.stages is None:
        if cfg.init_from is None or starting_vae_is_fresh(cfg.init_from):
            return ["vae", "vae_decoder", "denoiser"]
        return ["denoiser"]
    unknown = set(cfg.stages) - set(STAGES)
    if unknown or not cfg.stages:
        raise MobilevidError(f"stages must be a non-empty list of {', '.join(STAGES)}, got {cfg.stages}")
    return list(cfg.stages)


def train(cfg: TrainConfig, output: str | Path, resume: bool = False, argv: list[str] | None = None) -> Path:
    """Run the configured stages; returns the model folder."""
    out = Path(output)
    if out.exists() and any(out.iterdir()) and not resume:
        raise MobilevidError(f"output folder {out} is not empty: pass --resume to continue it, or choose another")
    model_cfg = _model_config(cfg)
    cfg = dataclasses.replace(cfg, stages=stages_to_run(cfg))  # run.json records the stages that run
    fresh_vae = cfg.init_from is not None and starting_vae_is_fresh(cfg.init_from)
    if cfg.init_from is not None and "vae" in cfg.stages and not fresh_vae:
        raise MobilevidError("init_from starts from a trained model, whose encoder is kept: drop 'vae' from stages "
                             "(vae_decoder and denoiser can run)")
    training_data(cfg.data, model_cfg, cfg.seed, cfg.data_crop)  # a bad --data fails here, before the run starts
    acc = start_run(out, cfg.mixed_precision, cfg.seed, to_dict(cfg), argv, "train")
    try:
        if cfg.init_from is not None and "vae" not in cfg.stages:
            vae = VideoVAE.from_pretrained(resolve_model_dir(cfg.init_from) / "vae")
        elif "vae" in cfg.stages:
            vae = _vae_stage(acc, cfg, model_cfg, out, resume)
        elif (out / "vae" / "config.json").is_file():
            vae = VideoVAE.from_pretrained(out / "vae")
        else:
            torch.manual_seed(cfg.seed)
            vae = VideoVAE(model_cfg.vae)
            logger.warning("no VAE stage and no trained VAE in %s: training on an untrained VAE", out / "vae")
        if "vae_decoder" in cfg.stages:
            vae = _vae_decoder_stage(acc, cfg, model_cfg, vae, out, resume)
        if "layout" in cfg.stages:
            layout_stage(acc, cfg, model_cfg, vae, out, resume)
        if "denoiser" in cfg.stages:
            _denoiser_stage(acc, cfg, model_cfg, vae, out, resume)
        elif "vae_decoder" in cfg.stages and cfg.init_from is not None and acc.is_main_process:
            # A new decoder for a trained model: write that model with the new VAE.
            from mobilevid.pipeline import Pipeline

            pipe = Pipeline.from_pretrained(cfg.init_from)
            pipe.vae = vae.cpu().eval()
            pipe.save_pretrained(out / "model", overwrite=True)
            logger.info("wrote %s", out / "model")
    finally:
        acc.end_training()
    return out / "model"


def train_phases(phases: list[Phase], output: str | Path, resume: bool = False, argv: list[str] | None = None) -> Path:
    """Run a recipe of several trainings (``mobilevid/training/phases.py``), each from the model of the one
    before (``init_from``); returns ``output/model``, a copy of the last phase's model."""
    for i, phase in enumerate(phases):
        cfg = phase.config
        if cfg.checkpoint_every < 1:
            raise MobilevidError(f"phase '{phase.name}': checkpoint_every must be at least 1, got {cfg.checkpoint_every}")
        starts_from_model = i > 0 or cfg.init_from is not None
        stages = stages_to_run(cfg) if i == 0 else (cfg.stages or ["denoiser"])
        if "denoiser" not in stages and not (starts_from_model and "vae_decoder" in stages):
            raise MobilevidError(f"phase '{phase.name}' writes no model (stages {stages}): every phase needs the "
                                 "denoiser stage, or vae_decoder from the previous phase's model")

    return run_phases(phases, output, resume, "init_from", lambda c, d, r: train(c, d, resume=r, argv=argv),
                      lambda out, resolved: record_run(out, resolved, argv, kind="train"))
