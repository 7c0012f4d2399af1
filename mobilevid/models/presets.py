"""Model presets, in the timm way: a small registry of named configurations.

- ``tiny``: trains on a 2-core CPU; 64x64 pixels, 16 frames, denoiser under 5M parameters.
- ``small``: about 100M denoiser parameters at 256x256, 16 frames; trains on one GPU.
- ``mobile-0.6b``: the SnapGen-V-class model (0.6B with text encoder and VAE decoder).
  It targets 288x512 pixels (16:9 portrait/landscape phone video, 36x64 latents with the 8x
  VAE) and 40 frames at 8 fps, i.e. a 5-second clip as in SnapGen-V's headline result, with
  attention confined to the two lowest resolutions so a 4-step video stays within the
  phone's compute budget (``mobilevid info`` prints the FLOPs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mobilevid.errors import MobilevidError
from mobilevid.models.arch_spec import slot_table
from mobilevid.models.unet_config import VideoUNetConfig
from mobilevid.models.vae import VAEConfig


@dataclass
class SamplingConfig:
    """How the model samples by default (``generate`` and ``eval`` read it from the model folder)."""

    steps: int = 25
    guidance: float = 5.0  # classifier-free guidance scale; 1.0 turns guidance off


@dataclass
class TrainedFor:
    """What the denoiser's training covered beyond ordinary clips, as the run that made it records it.

    Long-video generation reads it (``mobilevid.longvideo.run``): NUWA-XL's local calls need
    first/last-frame infilling through the visual condition; FIFO-Diffusion runs on any model
    (training-free) but a model trained with distinct per-frame noise levels is what it asks for.
    A folder written before these fields existed reads as trained for neither.
    """

    visual_condition: bool = False  # first/last frames given as the visual condition (NUWA-XL local mode)
    per_frame_times: bool = False  # distinct noise levels per frame or block (diffusion forcing)
    frame_strides: list[int] = field(default_factory=lambda: [1])  # clip strides seen with fps conditioning


@dataclass
class ModelConfig:
    """A whole text-to-video model: what ``model_index.json`` of a model folder records."""

    preset: str = "tiny"
    height: int = 64
    width: int = 64
    num_frames: int = 16
    fps: float = 8.0
    text_encoder: str = "all-MiniLM-L6-v2"  # built-in name or a local transformers folder
    text_max_length: int = 32
    denoiser: VideoUNetConfig = field(default_factory=VideoUNetConfig)
    vae: VAEConfig = field(default_factory=VAEConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    trained_for: TrainedFor = field(default_factory=TrainedFor)

    def __post_init__(self) -> None:
        down = self.vae.downsample
        if self.height % down or self.width % down:
            raise ValueError(f"height/width must be multiples of the VAE's downsampling factor {down}")
        if self.denoiser.latent_height != self.height // down or self.denoiser.latent_width != self.width // down:
            raise ValueError(
                f"denoiser latent size {self.denoiser.latent_height}x{self.denoiser.latent_width} does not match "
                f"{self.height}x{self.width} pixels / {down}"
            )
        if self.denoiser.in_channels != self.vae.latent_channels:
            raise ValueError("denoiser.in_channels must equal vae.latent_channels")


def _default_arch(config: VideoUNetConfig, attention_from_level: int) -> dict:
    """Temporal conv in every slot, temporal attention where resolution is low enough to afford it."""
    slots = {}
    for slot in slot_table(config):
        names = ["temporal_conv"]
        if slot.level >= attention_from_level:
            names.append("temporal_attention")
        slots[str(slot.index)] = names
    return {"slots": slots, "name": "default"}


def _tiny() -> ModelConfig:
    den = VideoUNetConfig(
        latent_height=16, latent_width=16, num_frames=16,
        block_out_channels=(32, 64, 96), attention_levels=(False, True, True), attention_heads=(1, 2, 3),
        norm_num_groups=16, temporal_head_dim=32, max_3d_tokens=64,
    )
    den.arch = _default_arch(den, attention_from_level=1)
    vae = VAEConfig(block_out_channels=(32, 64, 64), layers_per_block=1, norm_num_groups=16)
    return ModelConfig(preset="tiny", height=64, width=64, num_frames=16, fps=8.0, denoiser=den, vae=vae)


def _small() -> ModelConfig:
    den = VideoUNetConfig(
        latent_height=32, latent_width=32, num_frames=16,
        block_out_channels=(128, 256, 448), layers_per_block=2, attention_levels=(False, True, True),
        attention_heads=(2, 4, 7), norm_num_groups=32, temporal_head_dim=64, max_3d_tokens=64,
    )
    den.arch = _default_arch(den, attention_from_level=1)
    vae = VAEConfig(block_out_channels=(64, 128, 256, 256), layers_per_block=1, norm_num_groups=32)
    return ModelConfig(preset="small", height=256, width=256, num_frames=16, fps=8.0, denoiser=den, vae=vae)


def _mobile() -> ModelConfig:
    den = VideoUNetConfig(
        latent_height=36, latent_width=64, num_frames=40,
        block_out_channels=(256, 448, 960), layers_per_block=2, attention_levels=(False, True, True),
        attention_heads=(4, 7, 15), transformer_layers=2, multi_query=False,
        norm_num_groups=32, temporal_head_dim=64, max_3d_tokens=144,
    )
    den.arch = _default_arch(den, attention_from_level=1)
    vae = VAEConfig(block_out_channels=(128, 256, 512, 512), layers_per_block=2, norm_num_groups=32)
    return ModelConfig(preset="mobile-0.6b", height=288, width=512, num_frames=40, fps=8.0, denoiser=den, vae=vae)


PRESETS = {"tiny": _tiny, "small": _small, "mobile-0.6b": _mobile}


def get_preset(name: str) -> ModelConfig:
    """A fresh ``ModelConfig`` for preset ``name``."""
    if name not in PRESETS:
        raise MobilevidError(f"unknown preset '{name}' (valid: {', '.join(PRESETS)})")
    return PRESETS[name]()
