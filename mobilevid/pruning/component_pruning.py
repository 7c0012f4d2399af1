"""Pruning one component of a model folder: what torch-pruning traces, what it must not touch, what it becomes."""

from __future__ import annotations

import copy
from typing import Any

import torch

from mobilevid.models.presets import ModelConfig
from mobilevid.models.vae import VideoVAE
from mobilevid.models.video_unet import VideoUNet
from mobilevid.pruning.dependency_pruning import prune_to_target
from mobilevid.pruning.importance import NEEDS_GRADIENTS, make_importance
from mobilevid.pruning.objectives import DecoderMatching, DenoiserMatching
from mobilevid.pruning.prune_config import PruneConfig
from mobilevid.pruning.pruned_config import pruned_denoiser_config, pruned_vae_config

_TRACE_FRAMES = 2  # enough for every temporal layer to appear in the trace, cheap to run


def pruned_model_config(model_cfg: ModelConfig, component: str, ratio: float) -> ModelConfig:
    """The model config after pruning ``component`` by ``ratio`` (one-line errors for a ratio that breaks it)."""
    out = copy.deepcopy(model_cfg)
    if component == "denoiser":
        out.denoiser = pruned_denoiser_config(model_cfg.denoiser, ratio)
    else:
        out.vae = pruned_vae_config(model_cfg.vae, ratio)
    return out


def denoiser_trace_inputs(model: VideoUNet, text_length: int) -> dict[str, Any]:
    """Inputs that run every path of the denoiser, so the trace sees every layer whose channels change."""
    c = model.config
    f = min(_TRACE_FRAMES, c.num_frames)
    inputs: dict[str, Any] = {
        "sample": torch.randn(1, f, c.in_channels, c.latent_height, c.latent_width),
        "timestep": torch.full((1,), 500.0),
        "encoder_hidden_states": torch.randn(1, text_length, c.cross_attention_dim),
        "encoder_attention_mask": torch.ones(1, text_length),
        "pooled_text": torch.randn(1, c.pooled_text_dim),
        "fps": torch.full((1,), 8.0),
    }
    if c.visual_condition:
        inputs["cond_latents"] = torch.randn_like(inputs["sample"])
        inputs["cond_mask"] = torch.ones(1, f)
    return inputs


def prune_denoiser(denoiser: VideoUNet, model_cfg: ModelConfig, cfg: PruneConfig,
                   fixed_sigmas: list[float] | None = None, vae: VideoVAE | None = None) -> VideoUNet:
    """A pruned copy of ``denoiser`` (the input is left as it was)."""
    model = copy.deepcopy(denoiser).eval()
    target = VideoUNet(pruned_denoiser_config(denoiser.config, cfg.ratio))
    gradients = None
    if cfg.importance in NEEDS_GRADIENTS:
        if vae is None:
            raise ValueError("Taylor importance on the denoiser needs the model's VAE")
        objective = DenoiserMatching(copy.deepcopy(denoiser), vae, model_cfg, fixed_sigmas, cfg.data, cfg.recover,
                                     cfg.seed, data_weight=1.0)

        def gradients(m: torch.nn.Module) -> None:
            for step in range(cfg.calibration_batches):
                objective(m, step)[0].backward()

    # The output layer keeps the latent channels; inputs (latents, text, codes) are never pruned.
    return prune_to_target(model, target, denoiser_trace_inputs(model, model_cfg.text_max_length),
                           lambda m, x: m(**x), make_importance(cfg.importance), [model.conv_out], gradients).eval()


def prune_vae_decoder(vae: VideoVAE, model_cfg: ModelConfig, cfg: PruneConfig) -> VideoVAE:
    """A copy of ``vae`` whose decoder is pruned; the encoder, and so the latent space, is unchanged."""
    model = copy.deepcopy(vae).eval()
    target = VideoVAE(pruned_vae_config(vae.config, cfg.ratio))
    gradients = None
    if cfg.importance in NEEDS_GRADIENTS:
        objective = DecoderMatching(copy.deepcopy(vae), model_cfg, cfg.data, cfg.recover, cfg.seed, data_weight=1.0)

        def gradients(m: torch.nn.Module) -> None:
            for step in range(cfg.calibration_batches):
                objective(m, step)[0].backward()

    c = vae.config
    z = torch.randn(_TRACE_FRAMES, c.latent_channels, model_cfg.height // c.downsample, model_cfg.width // c.downsample)
    # Only the decoder is traced; its output layer keeps RGB and post_quant_conv the latent channels.
    ignored = [model.vae.decoder.conv_out] + ([model.vae.post_quant_conv] if model.vae.post_quant_conv else [])
    return prune_to_target(model, target, z, lambda m, x: m.decode_frames(x, _TRACE_FRAMES),
                           make_importance(cfg.importance), ignored, gradients).eval()
