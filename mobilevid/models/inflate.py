"""Inflate a local diffusers ``UNet2DConditionModel`` into a ``VideoUNet``.

The image UNet's weights fill the spatial backbone through a key map; Linear projections
in attention become 1x1 convolutions by adding two unit axes (as apple/ml-stable-diffusion
maps Linear to Conv2d weights for the Neural Engine). Temporal layers from the arch spec
are added with zero-initialised outputs, so the video model starts equal to the image
model frame by frame (as diffusers' ``UNetMotionModel.from_unet2d`` does).
``write_inflated_model`` puts the result in a full model folder (VAE, scheduler, text-encoder
settings) that ``mobilevid train --set init_from=DIR`` continues from.

Supported diffusers configurations (anything else is a one-line error naming what does
not map):
- down blocks ``CrossAttnDownBlock2D`` / ``DownBlock2D``, up blocks ``CrossAttnUpBlock2D`` /
  ``UpBlock2D`` (attention at the same levels going down and up), mid block
  ``UNetMidBlock2DCrossAttn`` or ``UNetMidBlock2D``-free (None);
- ``act_fn='silu'``, ``resnet_time_scale_shift='default'``, positional time embedding,
  ``time_embedding_type='positional'``, an integer ``layers_per_block``, an integer
  ``transformer_layers_per_block``, a single ``cross_attention_dim``;
- either ``use_linear_projection`` value; ``attention_head_dim`` / ``num_attention_heads``
  as an int or per-level tuple;
- no class / addition embeddings, no dual or only-cross attention, no encoder_hid_proj,
  ``conv_in_kernel = conv_out_kernel = 3``, ``center_input_sample=False``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from mobilevid.artifacts import atomic_dir, check_state_dict, load_tensors, read_json, write_json
from mobilevid.errors import MobilevidError
from mobilevid.models.arch_spec import full_arch
from mobilevid.models.presets import ModelConfig, SamplingConfig, get_preset
from mobilevid.models.text_encoder import BUILTIN_ENCODER, TextEncoder
from mobilevid.models.unet_config import VideoUNetConfig
from mobilevid.models.vae import VAEConfig, VideoVAE
from mobilevid.models.video_unet import VideoUNet

_WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "model.safetensors")
# Written into an inflated model folder: where it came from; "vae": null means its VAE is fresh (untrained).
INFLATED_RECORD = "inflated_from.json"

# key in the diffusers config -> the only value we map (None = must be unset)
_REQUIRED = {
    "act_fn": "silu",
    "resnet_time_scale_shift": "default",
    "time_embedding_type": "positional",
    "class_embed_type": None,
    "addition_embed_type": None,
    "num_class_embeds": None,
    "encoder_hid_dim": None,
    "encoder_hid_dim_type": None,
    "time_cond_proj_dim": None,
    "time_embedding_dim": None,
    "time_embedding_act_fn": None,
    "timestep_post_act": None,
    "dual_cross_attention": False,
    "center_input_sample": False,
    "conv_in_kernel": 3,
    "conv_out_kernel": 3,
    "attention_type": "default",
    "resnet_skip_time_act": False,
    "resnet_out_scale_factor": 1.0,
    "class_embeddings_concat": False,
    "cross_attention_norm": None,
    "reverse_transformer_layers_per_block": None,
    "dropout": 0.0,
}


def _per_level(value: Any, n: int, key: str) -> list[Any]:
    if isinstance(value, list | tuple):
        if len(value) != n:
            raise MobilevidError(f"image UNet config '{key}' has {len(value)} entries for {n} blocks")
        return list(value)
    return [value] * n


def config_from_diffusers(dcfg: dict[str, Any], num_frames: int = 16, arch: Any = None) -> VideoUNetConfig:
    """Translate a diffusers UNet2DConditionModel config into a ``VideoUNetConfig`` (or explain why not)."""
    if dcfg.get("_class_name", "UNet2DConditionModel") != "UNet2DConditionModel":
        raise MobilevidError(f"unsupported image UNet class {dcfg.get('_class_name')}: only UNet2DConditionModel maps")
    for key, want in _REQUIRED.items():
        if key in dcfg and dcfg[key] != want and not (want is False and dcfg[key] in (None, False)):
            raise MobilevidError(f"unsupported image UNet config: {key}={dcfg[key]!r} does not map (supported: {want!r})")
    only_cross = dcfg.get("only_cross_attention", False)
    if (isinstance(only_cross, list | tuple) and any(only_cross)) or only_cross is True:
        raise MobilevidError("unsupported image UNet config: only_cross_attention does not map")
    down = list(dcfg.get("down_block_types", []))
    up = list(dcfg.get("up_block_types", []))
    n = len(down)
    allowed_down = {"CrossAttnDownBlock2D": True, "DownBlock2D": False}
    allowed_up = {"CrossAttnUpBlock2D": True, "UpBlock2D": False}
    for name in down:
        if name not in allowed_down:
            raise MobilevidError(f"unsupported down block '{name}' (supported: {', '.join(allowed_down)})")
    for name in up:
        if name not in allowed_up:
            raise MobilevidError(f"unsupported up block '{name}' (supported: {', '.join(allowed_up)})")
    attn_down = [allowed_down[b] for b in down]
    attn_up = [allowed_up[b] for b in up]
    if len(up) != n or attn_up != attn_down[::-1]:
        raise MobilevidError("unsupported image UNet: up blocks must mirror down blocks (attention at the same levels)")
    mid = dcfg.get("mid_block_type", "UNetMidBlock2DCrossAttn")
    if mid not in ("UNetMidBlock2DCrossAttn",):
        raise MobilevidError(f"unsupported mid block '{mid}' (supported: UNetMidBlock2DCrossAttn)")
    lpb = dcfg.get("layers_per_block", 2)
    if not isinstance(lpb, int):
        raise MobilevidError("unsupported image UNet: layers_per_block must be one integer")
    tl = dcfg.get("transformer_layers_per_block", 1)
    if not isinstance(tl, int):
        if len(set(tl)) != 1 or isinstance(tl[0], list | tuple):
            raise MobilevidError("unsupported image UNet: transformer_layers_per_block must be the same at every level")
        tl = tl[0]
    cad = dcfg.get("cross_attention_dim", 1280)
    if isinstance(cad, list | tuple):
        if len(set(cad)) != 1:
            raise MobilevidError("unsupported image UNet: cross_attention_dim must be one value")
        cad = cad[0]
    # diffusers' legacy naming: 'attention_head_dim' is the number of heads when num_attention_heads is unset.
    heads = dcfg.get("num_attention_heads") or dcfg.get("attention_head_dim", 8)
    heads = _per_level(heads, n, "attention_head_dim")
    chans = tuple(dcfg.get("block_out_channels", (320, 640, 1280, 1280)))
    sample = dcfg.get("sample_size") or 64
    if isinstance(sample, list | tuple):
        lat_h, lat_w = int(sample[0]), int(sample[1])
    else:
        lat_h = lat_w = int(sample)
    try:  # the config's own checks (one entry per block, ...) name what does not fit
        cfg = VideoUNetConfig(
            in_channels=dcfg.get("in_channels", 4),
            out_channels=dcfg.get("out_channels", 4),
            latent_height=lat_h,
            latent_width=lat_w,
            num_frames=num_frames,
            block_out_channels=chans,
            layers_per_block=lpb,
            attention_levels=tuple(attn_down),
            attention_heads=tuple(int(h) for h in heads),
            transformer_layers=int(tl),
            mid_block_attention=True,
            cross_attention_dim=int(cad),
            pooled_text_dim=int(cad),
            norm_num_groups=dcfg.get("norm_num_groups", 32),
            norm_eps=float(dcfg.get("norm_eps", 1e-5)),
            flip_sin_to_cos=bool(dcfg.get("flip_sin_to_cos", True)),
            freq_shift=int(dcfg.get("freq_shift", 0)),
            mid_block_scale_factor=float(dcfg.get("mid_block_scale_factor", 1.0)),
            arch=arch if arch is not None else {"slots": {}},
        )
    except (ValueError, TypeError) as err:
        raise MobilevidError(f"unsupported image UNet config: {err}") from None
    if cfg.mid_block_scale_factor != 1.0:
        raise MobilevidError("unsupported image UNet: mid_block_scale_factor != 1 does not map")
    return cfg


_BLOCK_RULES = [
    (r"^down_blocks\.(\d+)\.resnets\.(\d+)\.", r"down_blocks.\1.\2.resnet."),
    (r"^down_blocks\.(\d+)\.attentions\.(\d+)\.", r"down_blocks.\1.\2.attention."),
    (r"^down_blocks\.(\d+)\.downsamplers\.0\.", r"downsamplers.\1."),
    (r"^up_blocks\.(\d+)\.resnets\.(\d+)\.", r"up_blocks.\1.\2.resnet."),
    (r"^up_blocks\.(\d+)\.attentions\.(\d+)\.", r"up_blocks.\1.\2.attention."),
    (r"^up_blocks\.(\d+)\.upsamplers\.0\.", r"upsamplers.\1."),
    (r"^mid_block\.resnets\.0\.", "mid_resnet_1."),
    (r"^mid_block\.resnets\.1\.", "mid_resnet_2."),
    (r"^mid_block\.attentions\.0\.", "mid_attention."),
]
_INNER_RULES = [
    (r"\.to_out\.0\.", ".to_out."),
    (r"\.ff\.net\.0\.proj\.", ".ff.proj_in."),
    (r"\.ff\.net\.2\.", ".ff.proj_out."),
]
_CONV_FROM_LINEAR = re.compile(r"(attention\.(proj_in|proj_out)|\.to_[qkv]|\.to_out|\.ff\.proj_(in|out))\.weight$")


def map_diffusers_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """diffusers UNet2DConditionModel keys/shapes -> VideoUNet spatial keys/shapes."""
    out = {}
    for key, value in state.items():
        new = key
        for pattern, repl in _BLOCK_RULES:
            new = re.sub(pattern, repl, new)
        for pattern, repl in _INNER_RULES:
            new = re.sub(pattern, repl, new)
        if _CONV_FROM_LINEAR.search(new) and value.dim() == 2:
            value = value[:, :, None, None]  # Linear (out, in) -> 1x1 conv (out, in, 1, 1)
        out[new] = value
    return out


def inflate_image_unet(
    path: str | Path, arch: Any = None, num_frames: int = 16, freeze_backbone: bool = False
) -> VideoUNet:
    """Build a ``VideoUNet`` from a local diffusers ``UNet2DConditionModel`` folder.

    ``freeze_backbone`` is recorded in the denoiser's config (training then keeps every weight that
    came from the image UNet fixed) and applied to the returned model.
    """
    path = Path(path)
    if not path.is_dir():
        raise MobilevidError(f"image UNet folder not found: {path}")
    dcfg = read_json(path / "config.json")
    weights = next((path / n for n in _WEIGHT_FILES if (path / n).is_file()), None)
    if weights is None:
        raise MobilevidError(f"no safetensors weights in {path} (expected {' or '.join(_WEIGHT_FILES)})")
    if isinstance(arch, str | Path):
        from mobilevid.models.arch_spec import load_arch

        arch = load_arch(arch)
    config = config_from_diffusers(dcfg, num_frames=num_frames, arch=arch)
    config.freeze_backbone = freeze_backbone
    model = VideoUNet(config)
    mapped = map_diffusers_state_dict(load_tensors(weights))
    own = model.state_dict()
    # The backbone's keys must match exactly; the modules an image UNet lacks keep their (identity) init.
    expected = {k: v for k, v in own.items() if not VideoUNet.new_after_inflation(k)}
    check_state_dict(expected, mapped, weights)
    model.load_state_dict(mapped, strict=False)
    model.freeze_backbone(freeze_backbone)
    return model


def inflated_model_config(denoiser: VideoUNetConfig, vae: VAEConfig, preset: str, text_encoder: str,
                          text_max_length: int, text_dim: int) -> ModelConfig:
    """The ``model_index.json`` of an inflated denoiser with ``vae``, or a one-line error on what does not fit."""
    if denoiser.cross_attention_dim != text_dim:
        raise MobilevidError(
            f"the image UNet's cross_attention_dim {denoiser.cross_attention_dim} does not match the text encoder "
            f"'{text_encoder}' (hidden size {text_dim}): pass --text-encoder a local transformers folder of that size")
    if vae.latent_channels != denoiser.in_channels:
        raise MobilevidError(f"the VAE has {vae.latent_channels} latent channels, the image UNet takes "
                             f"{denoiser.in_channels}")
    base = get_preset(preset)
    try:
        return ModelConfig(preset=preset, height=denoiser.latent_height * vae.downsample,
                           width=denoiser.latent_width * vae.downsample, num_frames=denoiser.num_frames, fps=base.fps,
                           text_encoder=text_encoder, text_max_length=text_max_length, denoiser=denoiser, vae=vae,
                           sampling=SamplingConfig())
    except ValueError as err:
        raise MobilevidError(f"inflated model: {err}") from None


def load_vae(source: str) -> VideoVAE:
    """A VAE folder (``config.json`` + weights), or the ``vae/`` of a model folder or built-in model name."""
    from mobilevid.pipeline import resolve_model_dir

    folder = Path(source)
    if not (folder / "config.json").is_file():
        folder = resolve_model_dir(source) / "vae"
    return VideoVAE.from_pretrained(folder)


def write_inflated_model(
    image_unet: str | Path, output: str | Path, arch: Any = None, num_frames: int = 16, freeze_backbone: bool = False,
    vae: str | None = None, preset: str = "tiny", text_encoder: str = BUILTIN_ENCODER, text_max_length: int = 32,
    overwrite: bool = False,
) -> Path:
    """Write a full model folder around an inflated image UNet; ``mobilevid train --set init_from=DIR`` continues it.

    The VAE is ``vae`` (a VAE or model folder) or, when ``None``, a fresh one of ``preset``'s config,
    recorded as such in ``inflated_from.json`` so that training from the folder trains the VAE first.
    The scheduler is rectified flow's (diffusers ``FlowMatchEulerDiscreteScheduler``): an image UNet
    trained for another target (noise or v-prediction) learns the velocity in that fine-tune.
    """
    from diffusers import FlowMatchEulerDiscreteScheduler

    from mobilevid.pipeline import Pipeline

    image_unet = Path(image_unet)
    if not image_unet.is_dir():
        raise MobilevidError(f"image UNet folder not found: {image_unet}")
    if isinstance(arch, str | Path):
        from mobilevid.models.arch_spec import load_arch

        arch = load_arch(arch)
    if arch is None:
        arch = full_arch(config_from_diffusers(read_json(image_unet / "config.json"), num_frames=num_frames))
    den_cfg = config_from_diffusers(read_json(image_unet / "config.json"), num_frames=num_frames, arch=arch)
    vae_model = load_vae(vae) if vae is not None else None
    text = TextEncoder(text_encoder, text_max_length)
    if vae_model is None:
        torch.manual_seed(0)
        vae_model = VideoVAE(get_preset(preset).vae)
    model_cfg = inflated_model_config(den_cfg, vae_model.config, preset, text_encoder, text_max_length,
                                      text.hidden_size)
    denoiser = inflate_image_unet(image_unet, arch=arch, num_frames=num_frames, freeze_backbone=freeze_backbone)
    model_cfg.denoiser = denoiser.config
    pipe = Pipeline(model_cfg, denoiser, vae_model, text, FlowMatchEulerDiscreteScheduler())
    record = {"image_unet": str(image_unet.resolve()), "vae": None if vae is None else str(vae),
              "freeze_backbone": freeze_backbone}
    with atomic_dir(output, overwrite, "model_index.json", "model folder") as tmp:  # overwrite: an earlier model
        # The pipeline writes its own folder layout; it is moved up into this one so that the model and
        # its inflation record appear together.
        pipe.save_pretrained(tmp / "model")
        for child in (tmp / "model").iterdir():
            child.rename(tmp / child.name)
        (tmp / "model").rmdir()
        write_json(tmp / INFLATED_RECORD, record)
    return Path(output)
