"""Model facts: parameters per component, FLOPs per denoiser step, and the arch spec.

Models are built on the ``meta`` device, so even the 0.6B preset is counted in seconds
without allocating its weights; FLOPs come from ``torch.utils.flop_counter``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from mobilevid.artifacts import read_json
from mobilevid.config import from_dict, to_dict
from mobilevid.errors import MobilevidError
from mobilevid.models.arch_spec import parse_arch, slot_table
from mobilevid.models.presets import ModelConfig, get_preset
from mobilevid.models.unet_config import VideoUNetConfig
from mobilevid.models.video_unet import VideoUNet


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def text_encoder_params(name_or_path: str) -> int:
    """Parameters of the text encoder, counted from its config on the meta device."""
    from transformers import AutoConfig, AutoModel

    from mobilevid.models.text_encoder import resolve_encoder_path

    cfg = AutoConfig.from_pretrained(str(resolve_encoder_path(name_or_path)), local_files_only=True)
    with torch.device("meta"):
        model = AutoModel.from_config(cfg)
    return _count(model)


def denoiser_flops(config: VideoUNetConfig, num_frames: int | None = None, text_len: int = 32) -> int:
    """FLOPs of one denoiser call on one clip (batch 1), counted on meta tensors."""
    f = num_frames or config.num_frames
    with torch.device("meta"):
        model = VideoUNet(config)
        sample = torch.zeros(1, f, config.in_channels, config.latent_height, config.latent_width)
        text = torch.zeros(1, text_len, config.cross_attention_dim)
        pooled = torch.zeros(1, config.pooled_text_dim)
        t = torch.zeros(1)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(sample, t, text, pooled_text=pooled)
    return int(counter.get_total_flops())


def load_model_config(path: str | Path) -> tuple[ModelConfig | None, VideoUNetConfig]:
    """A model folder (``model_index.json``) or a bare denoiser folder (``config.json``)."""
    path = Path(path)
    if not path.is_dir():
        raise MobilevidError(f"model folder not found: {path}")
    if (path / "model_index.json").is_file():
        cfg = from_dict(ModelConfig, read_json(path / "model_index.json"))
        return cfg, cfg.denoiser
    return None, from_dict(VideoUNetConfig, read_json(path / "config.json"))


def model_info(preset: str | None = None, folder: str | Path | None = None) -> dict[str, Any]:
    """Everything ``mobilevid info`` prints, as a JSON-ready dict."""
    if (preset is None) == (folder is None):
        raise MobilevidError("give exactly one of a preset name or a model folder")
    if preset is not None:
        model_cfg: ModelConfig | None = get_preset(preset)
        den_cfg = model_cfg.denoiser
    else:
        model_cfg, den_cfg = load_model_config(folder)

    with torch.device("meta"):
        denoiser = VideoUNet(den_cfg)
    temporal = _count(denoiser.temporal)
    components: dict[str, Any] = {
        "denoiser": {"params": _count(denoiser), "temporal_params": temporal, "spatial_params": _count(denoiser) - temporal},
    }
    if model_cfg is not None:
        from mobilevid.models.vae import VideoVAE

        with torch.device("meta"):
            vae = VideoVAE(model_cfg.vae)
        components["vae_decoder"] = {"params": _count(vae.decoder_modules())}
        components["vae_encoder"] = {"params": _count(vae) - _count(vae.decoder_modules()), "on_device": False}
        components["text_encoder"] = {"params": text_encoder_params(model_cfg.text_encoder),
                                      "name": model_cfg.text_encoder}
    on_device = [k for k, v in components.items() if v.get("on_device", True)]
    total = sum(components[k]["params"] for k in on_device)
    arch = parse_arch(den_cfg.arch, den_cfg)
    slots = [
        {"slot": s.index, "name": s.name, "channels": s.channels, "tokens_per_frame": s.height * s.width,
         "candidates": arch.get(s.index, [])}
        for s in slot_table(den_cfg)
    ]
    return {
        "source": preset or str(folder),
        "total_params": total,
        "total_counts": on_device,
        "components": components,
        "denoiser_flops_per_step": denoiser_flops(den_cfg),
        "frames": model_cfg.num_frames if model_cfg else den_cfg.num_frames,
        "resolution": [model_cfg.height, model_cfg.width] if model_cfg else None,
        "latent_shape": [den_cfg.in_channels, den_cfg.latent_height, den_cfg.latent_width],
        "arch": {"slots": {str(k): v for k, v in arch.items()}},
        "slots": slots,
        "denoiser_config": to_dict(den_cfg),
    }


def format_info(info: dict[str, Any]) -> str:
    """A Markdown summary."""
    lines = [f"# {info['source']}", "", "| component | parameters |", "|---|---:|"]
    for name, comp in info["components"].items():
        note = "" if comp.get("on_device", True) else " (training only)"
        lines.append(f"| {name}{note} | {comp['params'] / 1e6:.2f}M |")
    lines.append(f"| **total on device** | **{info['total_params'] / 1e6:.2f}M** |")
    lines += ["", f"Denoiser FLOPs per step (one clip of {info['frames']} frames): "
              f"{info['denoiser_flops_per_step'] / 1e9:.2f} GFLOPs", ""]
    if info["resolution"]:
        lines.append(f"Resolution {info['resolution'][0]}x{info['resolution'][1]}, latents {info['latent_shape']}")
        lines.append("")
    lines += ["| slot | block | channels | tokens/frame | temporal layers |", "|---:|---|---:|---:|---|"]
    for s in info["slots"]:
        lines.append(f"| {s['slot']} | {s['name']} | {s['channels']} | {s['tokens_per_frame']} | "
                     f"{', '.join(s['candidates']) or '-'} |")
    return "\n".join(lines)
