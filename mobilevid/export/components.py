"""The three exported components and the real inputs they are checked and calibrated on.

Each component is a small ``nn.Module`` with static shapes and positional tensor inputs, the
form that ``torch.export`` (and so Core ML, ExecuTorch and ONNX) takes:

- ``text_encoder``: ``input_ids`` int32 (1, L), ``attention_mask`` int32 (1, L)
  -> ``text_states`` (1, L, D), ``pooled_text`` (1, D);
- ``denoiser``: ``sample`` (1, F, C, h, w), ``timestep`` (1,) on [0, 1000], ``text_states``,
  ``text_mask`` float (1, L), ``pooled_text`` -> ``velocity`` (1, F, C, h, w); fps is baked in;
- ``vae_decoder``: ``latents`` (1, F, C, h, w), scaled as the denoiser sees them
  -> ``video`` (1, F, 3, H, W) in about [-1, 1].

Batch 1: a phone makes one video at a time; classifier-free guidance, when a model needs it,
is two denoiser calls (the Swift app does the same).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import nn

from mobilevid.data import heldout_prompts, make_dataset
from mobilevid.models.text_encoder import TextEncoderModule
from mobilevid.models.vae import VideoVAE
from mobilevid.models.video_unet import VideoUNet

COMPONENTS = ("text_encoder", "denoiser", "vae_decoder")
_SUITES = ("shapes", "digits", "photos")


class TextEncoderExport(nn.Module):
    def __init__(self, module: TextEncoderModule) -> None:
        super().__init__()
        self.module = module

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # int32 in the graph: Core ML has no int64 inputs.
        return self.module(input_ids.long(), attention_mask.long())


class DenoiserExport(nn.Module):
    def __init__(self, denoiser: VideoUNet, fps: float) -> None:
        super().__init__()
        self.denoiser = denoiser
        self.fps = float(fps)

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, text_states: torch.Tensor,
                text_mask: torch.Tensor, pooled_text: torch.Tensor) -> torch.Tensor:
        fps = torch.full_like(timestep, self.fps)
        return self.denoiser(sample, timestep, text_states, encoder_attention_mask=text_mask,
                             pooled_text=pooled_text, fps=fps)


class VAEDecoderExport(nn.Module):
    def __init__(self, vae: VideoVAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latents)


@dataclass
class Component:
    """One exportable module, its named example inputs (the first calibration sample) and output names."""

    name: str
    module: nn.Module
    samples: list[OrderedDict[str, torch.Tensor]]  # real inputs: parity checks and int8 calibration
    output_names: tuple[str, ...]
    metadata: dict = field(default_factory=dict)

    @property
    def example(self) -> OrderedDict[str, torch.Tensor]:
        return self.samples[0]

    @torch.no_grad()
    def reference(self, sample: OrderedDict[str, torch.Tensor]) -> list[torch.Tensor]:
        out = self.module(*sample.values())
        return list(out) if isinstance(out, tuple) else [out]


def _real_clips(pipe, n: int, seed: int) -> list[torch.Tensor]:
    """Held-out clips of the built-in sets at the model's size (centre-cropped if it is not square)."""
    cfg = pipe.config
    side = max(cfg.height, cfg.width)
    clips = []
    for i in range(n):
        data = make_dataset(_SUITES[i % len(_SUITES)], "heldout", num_frames=cfg.num_frames, size=side,
                            seed=seed + i, length=n)
        video = data[i // len(_SUITES)]["video"]
        top, left = (side - cfg.height) // 2, (side - cfg.width) // 2
        clips.append(video[:, :, top:top + cfg.height, left:left + cfg.width])
    return clips


def _real_prompts(n: int, seed: int) -> list[str]:
    """Held-out captions, alternating between the built-in sets (clip ``i`` comes from the same set)."""
    per_suite = [heldout_prompts(suite, n, seed) for suite in _SUITES]
    return [per_suite[i % len(_SUITES)][i // len(_SUITES)]["caption"] for i in range(n)]


@torch.no_grad()
def build_components(pipe, num_samples: int = 8, seed: int = 0) -> dict[str, Component]:
    """The three components of ``pipe`` (a ``Pipeline``) with ``num_samples`` real inputs each.

    Text inputs are held-out prompts of the built-in sets; denoiser inputs are VAE latents of
    held-out clips noised to the model's own sampling noise levels; decoder inputs are clean latents.
    """
    torch.manual_seed(seed)
    prompts = _real_prompts(num_samples, seed)
    clips = _real_clips(pipe, num_samples, seed)
    sigmas = pipe.sigmas()[:-1]
    text_module = TextEncoderExport(pipe.text_encoder.module).eval()
    denoiser = DenoiserExport(pipe.denoiser, pipe.config.fps).eval()
    decoder = VAEDecoderExport(pipe.vae).eval()
    text_samples, den_samples, dec_samples = [], [], []
    gen = torch.Generator().manual_seed(seed)
    for i, (prompt, clip) in enumerate(zip(prompts, clips, strict=True)):
        ids, mask = pipe.text_encoder.tokenize([prompt])
        text_samples.append(OrderedDict(input_ids=ids.int(), attention_mask=mask.int()))
        states, pooled = text_module(ids.int(), mask.int())
        latents = pipe.vae.encode(clip[None])
        sigma = float(sigmas[i % len(sigmas)])
        noisy = (1 - sigma) * latents + sigma * torch.randn(latents.shape, generator=gen)
        den_samples.append(OrderedDict(sample=noisy, timestep=torch.tensor([sigma * 1000.0]), text_states=states,
                                       text_mask=mask.float(), pooled_text=pooled))
        dec_samples.append(OrderedDict(latents=latents))
    # Export inputs must be contiguous: torch.export records each example input's dim order, and
    # the VAE's latents come out of a conv in channels-last strides, which Core ML's delegate
    # rejects ("non-contiguous dim order"); the runtimes feed contiguous tensors anyway.
    for samples in (text_samples, den_samples, dec_samples):
        for sample in samples:
            for name, value in sample.items():
                sample[name] = value.detach().contiguous()
    return {
        "text_encoder": Component("text_encoder", text_module, text_samples, ("text_states", "pooled_text")),
        "denoiser": Component("denoiser", denoiser, den_samples, ("velocity",)),
        "vae_decoder": Component("vae_decoder", decoder, dec_samples, ("video",)),
    }
