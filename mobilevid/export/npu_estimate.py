"""A roofline ESTIMATE of iPhone Neural Engine latency; not a measurement (nothing here runs on a phone).

    seconds = max(flops / (peak_flops * efficiency), bytes_moved / (bandwidth * bandwidth_efficiency))

Constants for the Apple A18 Pro (iPhone 16 Pro / Pro Max) and where they come from:

- ``A18_PRO_NPU_OPS = 35e12``: Apple's "35 trillion operations per second" for the 16-core Neural
  Engine (Apple newsroom, iPhone 16 Pro announcement, Sept 2024). Apple does not state the
  precision; it is used here as fp16 FLOP/s. The jump from A16 (17 TOPS) to A17 Pro (35 TOPS)
  is often read as counting int8 operations, in which case fp16 is half as fast:
  ``FP16_IF_INT8_HEADLINE = 0.5`` gives that pessimistic bound.
- ``SUSTAINED_EFFICIENCY = 0.25``: the fraction of peak a diffusion UNet sustains, calibrated on
  Apple's own numbers: apple/ml-stable-diffusion's README reports 2.53 UNet iterations/s for
  stable-diffusion-2-1-base (512x512, batch 2 for classifier-free guidance, SPLIT_EINSUM_V2,
  CPU_AND_NE) on iPhone 13 (A15, 15.8 fp16 TOPS); that UNet costs 0.80 TFLOPs per image
  (``torch.utils.flop_counter`` on diffusers' UNet2DConditionModel), i.e. 2 x 0.80 x 2.53 =
  4.1 TFLOP/s sustained = 26% of peak.
- ``A18_PRO_DRAM_BYTES_PER_S = 60e9``: LPDDR5X-7500 on a 64-bit bus (7500 MT/s x 8 bytes),
  consistent with Apple's "17% more memory bandwidth" over A17 Pro's LPDDR5-6400 (51.2 GB/s).
- ``BANDWIDTH_EFFICIENCY = 0.7``: assumed achievable fraction of DRAM peak.

FLOPs are ``torch.utils.flop_counter`` FLOPs (2 per multiply-add), counted by
``mobilevid.info.denoiser_flops``. Bytes moved per call are the weights on disk (palettized
weights are assumed to be streamed compressed, once per call: they do not fit on chip) plus
each conv / linear output written once and read once in fp16 (norms and activations assumed
fused into them, attention scores kept on chip).
"""

from __future__ import annotations

import torch
from torch import nn

from mobilevid.info import denoiser_flops as _count_denoiser_flops
from mobilevid.models.unet_config import VideoUNetConfig

A18_PRO_NPU_OPS = 35e12
FP16_IF_INT8_HEADLINE = 0.5
SUSTAINED_EFFICIENCY = 0.25
A18_PRO_DRAM_BYTES_PER_S = 60e9
BANDWIDTH_EFFICIENCY = 0.7
FP16_BYTES = 2


def estimate_npu_seconds(flops: float, bytes_moved: float, peak_flops: float = A18_PRO_NPU_OPS,
                         efficiency: float = SUSTAINED_EFFICIENCY, bandwidth: float = A18_PRO_DRAM_BYTES_PER_S,
                         bandwidth_efficiency: float = BANDWIDTH_EFFICIENCY) -> float:
    """Estimated seconds for ``flops`` of compute moving ``bytes_moved`` to and from DRAM (roofline).

    Compute and memory traffic overlap, so the slower of the two bounds the time.
    """
    if flops < 0 or bytes_moved < 0:
        raise ValueError("flops and bytes_moved must be >= 0")
    if min(peak_flops, efficiency, bandwidth, bandwidth_efficiency) <= 0:
        raise ValueError("peak, bandwidth and efficiencies must be > 0")
    return max(flops / (peak_flops * efficiency), bytes_moved / (bandwidth * bandwidth_efficiency))


def denoiser_flops(model_config) -> int:
    """FLOPs of one denoiser call (batch 1) of a ``ModelConfig`` or ``VideoUNetConfig``."""
    config = model_config if isinstance(model_config, VideoUNetConfig) else model_config.denoiser
    return _count_denoiser_flops(config, text_len=getattr(model_config, "text_max_length", 32))


def denoiser_activation_bytes(model_config, bytes_per_value: int = FP16_BYTES) -> int:
    """DRAM traffic of one denoiser call's activations: every conv / linear output written and read once.

    Counted with forward hooks on the ``meta`` device, so even the 0.6B preset takes seconds.
    """
    from mobilevid.models.video_unet import VideoUNet

    config = model_config if isinstance(model_config, VideoUNetConfig) else model_config.denoiser
    text_len = getattr(model_config, "text_max_length", 32)
    total = 0

    def hook(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        nonlocal total
        total += 2 * output.numel() * bytes_per_value  # written by its layer, read by the next

    with torch.device("meta"):
        model = VideoUNet(config)
        handles = [m.register_forward_hook(hook) for m in model.modules()
                   if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Conv3d | nn.Linear)]
        sample = torch.zeros(1, config.num_frames, config.in_channels, config.latent_height, config.latent_width)
        with torch.no_grad():
            model(sample, torch.zeros(1), torch.zeros(1, text_len, config.cross_attention_dim),
                  pooled_text=torch.zeros(1, config.pooled_text_dim))
    for h in handles:
        h.remove()
    return int(total)
