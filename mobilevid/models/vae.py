"""The autoencoder: a small diffusers ``AutoencoderKL`` and the VideoVAE decoder variant.

VideoVAE (MagicVideo, Zhou et al. 2022, sec. 3.4; NUWA-XL's T-KLVAE) adds temporal
convolutions inside the decoder to remove frame-to-frame pixel dithering. They are
identity-initialised (centre tap = identity), so a fresh VideoVAE decodes exactly like the
image VAE it extends; fine-tuning on video then moves them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKL
from diffusers.models.autoencoders.vae import Decoder
from torch import nn

from mobilevid.artifacts import load_module_weights, read_json, write_artifact
from mobilevid.config import from_dict, to_dict
from mobilevid.errors import MobilevidError

WEIGHTS_NAME = "model.safetensors"


@dataclass
class VAEConfig:
    """A diffusers ``AutoencoderKL`` configuration plus the VideoVAE switch."""

    in_channels: int = 3
    latent_channels: int = 4
    block_out_channels: tuple[int, ...] = (32, 64, 64)  # spatial downsampling = 2**(len-1)
    layers_per_block: int = 1
    norm_num_groups: int = 16
    scaling_factor: float = 1.0  # latents are multiplied by this before diffusion (set after VAE training)
    shift_factor: float = 0.0
    video_decoder: bool = True  # add identity-initialised temporal convs to the decoder (VideoVAE)
    # A lighter decoder than the encoder, e.g. (16, 32, 64): only the decoder runs on the phone
    # (SnapGen-V's and TAESD's point), and it costs as much as several denoiser steps. None mirrors
    # the encoder. Same number of levels, so the same latent size.
    decoder_block_out_channels: tuple[int, ...] | None = None
    # GroupNorm groups of that decoder; None = norm_num_groups. Structured pruning removes whole
    # groups, so a pruned decoder has fewer groups than the encoder it pairs with.
    decoder_norm_num_groups: int | None = None

    @property
    def downsample(self) -> int:
        return 2 ** (len(self.block_out_channels) - 1)


class IdentityTemporalConv(nn.Module):
    """A (3, 1) Conv2d over frames on a (B, C, F, H*W) view, initialised to the identity."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, (3, 1), padding=(1, 0))
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.bias.zero_()
            self.conv.weight[:, :, 1, 0] = torch.eye(channels)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        bf, c, h, w = x.shape
        video = x.reshape(bf // num_frames, num_frames, c, h * w).transpose(1, 2)
        return self.conv(video).transpose(1, 2).reshape(bf, c, h, w)


class VideoVAE(nn.Module):
    """``encode(video (B,F,3,H,W)) -> latents (B,F,C,h,w)`` and ``decode`` back, frames folded into the batch."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        n = len(config.block_out_channels)
        self.vae = AutoencoderKL(
            in_channels=config.in_channels,
            out_channels=config.in_channels,
            down_block_types=("DownEncoderBlock2D",) * n,
            up_block_types=("UpDecoderBlock2D",) * n,
            block_out_channels=config.block_out_channels,
            layers_per_block=config.layers_per_block,
            latent_channels=config.latent_channels,
            norm_num_groups=config.norm_num_groups,
        )
        if config.decoder_block_out_channels is not None or config.decoder_norm_num_groups is not None:
            decoder_channels = config.decoder_block_out_channels or config.block_out_channels
            if len(decoder_channels) != n:
                raise MobilevidError(
                    f"decoder_block_out_channels needs {n} levels like the encoder, got {config.decoder_block_out_channels}"
                )
            self.vae.decoder = Decoder(
                in_channels=config.latent_channels,
                out_channels=config.in_channels,
                up_block_types=("UpDecoderBlock2D",) * n,
                block_out_channels=decoder_channels,
                layers_per_block=config.layers_per_block,
                norm_num_groups=config.decoder_norm_num_groups or config.norm_num_groups,
            )
        decoder = self.vae.decoder
        self.temporal = (
            nn.ModuleList(
                [IdentityTemporalConv(decoder.mid_block.resnets[-1].out_channels)]
                + [IdentityTemporalConv(block.resnets[-1].out_channels) for block in decoder.up_blocks]
            )
            if config.video_decoder
            else None
        )

    def encode(self, video: torch.Tensor, sample: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
        """Pixels in [-1, 1] -> scaled latents (the mean unless ``sample``)."""
        b, f = video.shape[:2]
        dist = self.vae.encode(video.reshape(b * f, *video.shape[2:])).latent_dist
        z = dist.sample(generator) if sample else dist.mean
        z = (z - self.config.shift_factor) * self.config.scaling_factor
        return z.reshape(b, f, *z.shape[1:])

    def encode_distribution(self, frames: torch.Tensor) -> Any:
        """The posterior for (N, 3, H, W) frames (for VAE training)."""
        return self.vae.encode(frames).latent_dist

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents (B, F, C, h, w) -> pixels (B, F, 3, H, W) in about [-1, 1]."""
        b, f = latents.shape[:2]
        z = latents.reshape(b * f, *latents.shape[2:]) / self.config.scaling_factor + self.config.shift_factor
        x = self.decode_frames(z, f)
        return x.reshape(b, f, *x.shape[1:])

    def decode_frames(self, z: torch.Tensor, num_frames: int) -> torch.Tensor:
        """Unscaled latents (B*F, C, h, w) -> pixels (B*F, 3, H, W), running the temporal convs between stages.

        Re-walks diffusers' ``Decoder.forward`` so temporal layers can sit between its stages.
        """
        if self.vae.post_quant_conv is not None:
            z = self.vae.post_quant_conv(z)
        dec = self.vae.decoder
        x = dec.conv_in(z)
        x = dec.mid_block(x, None)
        if self.temporal is not None:
            x = self.temporal[0](x, num_frames)
        for i, block in enumerate(dec.up_blocks):
            x = block(x, None)
            if self.temporal is not None:
                x = self.temporal[i + 1](x, num_frames)
        x = dec.conv_act(dec.conv_norm_out(x))
        return dec.conv_out(x)

    def decoder_modules(self) -> nn.ModuleDict:
        """What runs on the phone: post-quant conv, decoder and temporal convs."""
        mods = {"decoder": self.vae.decoder}
        if self.vae.post_quant_conv is not None:
            mods["post_quant_conv"] = self.vae.post_quant_conv
        if self.temporal is not None:
            mods["temporal"] = self.temporal
        return nn.ModuleDict(mods)

    def save_pretrained(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write ``config.json`` + ``model.safetensors`` atomically (``overwrite`` replaces an earlier one)."""
        return write_artifact(path, to_dict(self.config), {WEIGHTS_NAME: self.state_dict()}, overwrite=overwrite)

    @classmethod
    def from_pretrained(cls, path: str | Path) -> VideoVAE:
        path = Path(path)
        if not path.is_dir():
            raise MobilevidError(f"VAE folder not found: {path}")
        model = cls(from_dict(VAEConfig, read_json(path / "config.json")))
        load_module_weights(model, path / WEIGHTS_NAME)
        return model


class VAEDecoder(nn.Module):
    """The exportable decoder: scaled latents (B, F, C, h, w) -> pixels (B, F, 3, H, W)."""

    def __init__(self, vae: VideoVAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latents)
