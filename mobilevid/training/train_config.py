"""The training recipe: a typed dataclass; recipes (YAML/JSON) and ``--set`` override it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mobilevid.config import PositiveFloat, PositiveInt, Probability, Seed


@dataclass
class VAEStageConfig:
    steps: int = 1500
    # Many distinct clips per step, one frame each: measured on the tiny model, 2 clips x 8 frames
    # for 2200 steps left small objects' colour at 0.69 (scorer on held-out reconstructions), 16
    # clips x 1 frame reached 1.00 in 800 steps at the same cost per step. The decoder's temporal
    # convs then train in the vae_decoder stage (>= 2 frames per clip).
    batch_size: PositiveInt = 16  # clips per step
    frames: int = 1  # frames per clip in this stage
    lr: PositiveFloat = 1e-3
    kl_weight: float = 1e-6  # small: the latents must stay informative (LDM's KL-f4 regime)
    # Decode a posterior sample (a true VAE) or the posterior mean. On a CPU budget the sampled
    # latents stay noisy (posterior std ~0.5 after 1000 steps) and the decoder washes colours out;
    # decoding the mean, with the KL term still bounding the latents, converges far faster.
    sample_posterior: bool = False
    mse_weight: float = 1.0  # L1 + MSE: the squared term weighs large errors (small coloured objects) more
    # Extra weight on pixels that differ from their frame's median colour (objects, not backdrop).
    # Small objects cover ~5% of a frame, so an unweighted loss learns their colour last. Measured
    # on the default model: neither this nor the plain loss gave small shapes their colour within
    # 2200 steps of 2 clips x 8 frames (see the vae_decoder stage).
    object_weight: float = 10.0


@dataclass
class VAEDecoderStageConfig:
    """Fine-tune only the decoder of a trained VAE (as Stability's sd-vae-ft-mse did for SD's VAE).

    The encoder, so the latent space, stays fixed: a denoiser already trained on these latents
    stays valid. Batches hold many clips of few frames: the colour of small objects is learned
    from the number of distinct clips seen, not from frames of the same clip.
    """

    steps: int = 600
    batch_size: PositiveInt = 8  # clips per step
    frames: int = 2  # frames per clip: >= 2 so the VideoVAE temporal convs train too
    # Train a new, lighter decoder (e.g. [16, 32, 64]) from scratch against the frozen encoder
    # instead of fine-tuning the current one; the latent space, so any trained denoiser, stays valid.
    block_out_channels: list[int] | None = None
    lr: PositiveFloat = 1e-3
    mse_weight: float = 1.0
    object_weight: float = 10.0  # as in the VAE stage: weigh the small objects' pixels more


@dataclass
class LayoutStageConfig:
    """The layout pre-fit (``mobilevid/training/layout_stage.py``): text -> per-frame map, by regression.

    Measured on the tiny teacher: 6144 clips (~14 minutes to render and encode on 2
    cores), 4000 steps of 64 (~1 minute) learn the direction words on held-in captions.
    """

    clips: int = 6144  # training clips rendered and encoded once (~15 per caption of shapes+digits)
    steps: int = 4000
    batch_size: PositiveInt = 64  # clips per step (cheap: no denoiser in the loop)
    lr: PositiveFloat = 1e-3
    warmup_steps: int = 0


@dataclass
class DenoiserStageConfig:
    steps: int = 6000
    batch_size: PositiveInt = 4  # clips per step
    lr: PositiveFloat = 5e-4
    warmup_steps: int = 200
    weight_decay: float = 0.0
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    caption_dropout: Probability = 0.1  # empty caption this often, so classifier-free guidance works
    image_ratio: Probability = 0.1  # share of single-frame image batches (SnapGen-V joint training)
    visual_condition_prob: Probability = 0.1  # give first/last frames as a visual condition (NUWA-XL infilling)
    per_frame_time_prob: Probability = 0.0  # clips with an independent time per frame (diffusion forcing; for FIFO)
    time_mean: float = 0.0  # logit-normal time sampling (SD3); mean ln(k) = SD3 shift k, more high-noise steps
    time_std: float = 1.0
    # Share of clips trained at t = 1 exactly (pure noise, zero SNR), where sampling starts: there the
    # clip can only come from the caption (Lin et al. 2024, "Common diffusion noise schedules and sample
    # steps are flawed": a model never trained at zero SNR reads structure into pure noise).
    terminal_time_prob: Probability = 0.0
    # Parameter-name prefix -> learning-rate multiplier, e.g. {"frame_layout_embedding.": 10.0} for a
    # zero-initialised module a fine-tune adds: it must move far from zero while the rest stays close.
    lr_scales: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainConfig:
    """``mobilevid train``: a VAE stage, an optional VAE-decoder fine-tune, then a denoiser stage (the teacher)."""

    preset: str = "tiny"
    data: str = "shapes+digits+photos"
    seed: Seed = 0
    num_frames: int | None = None  # frames per clip; None = the preset's
    # Frame size in pixels; None = the preset's (or the starting model's). Multiples of the VAE's
    # downsampling factor that the denoiser's levels (and layout grid) divide; height != width is fine.
    height: int | None = None
    width: int | None = None
    # How a video folder's clips are fitted to that size: a "random" or "center" crop after scaling
    # to cover the frame, or "resize" (aspect ratio not kept). Built-in sets render at the size.
    data_crop: Literal["random", "center", "resize"] = "random"
    # Frame distances of long clips (long-shapes, long-digits) and video folders: NUWA-XL trains each level at
    # its stride, e.g. [1, 15, 225] for L = 16. None: long built-in clips at those, folders at 1.
    data_strides: list[PositiveInt] | None = None
    # None: vae, vae_decoder, denoiser from scratch; only the denoiser from a trained model (init_from);
    # all three from an inflated model whose VAE is fresh (mobilevid/training/train.py, stages_to_run).
    stages: list[str] | None = None
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    log_every: int = 25
    # fp16/bf16 for GPUs; bf16 also on CPUs with AMX/AVX512-BF16 (tiny preset: 1.38x per step on a Xeon 4th gen)
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    sample_steps: int = 25  # the trained model's default sampling steps ...
    sample_guidance: float = 4.0  # ... and guidance, written into model_index.json
    # SD3 timestep shift of the saved model's sampling schedule (scheduler_config.json); > 1 spends
    # more steps at high noise, where a video's layout and motion are decided.
    sample_shift: float = 1.0
    # Fine-tune a trained model folder (or a built-in name: "teacher") instead of starting from
    # scratch: its VAE is reused as is (only the denoiser stage runs) and its denoiser's weights
    # load by name. Temporal layers that ``arch`` adds start as identity (zero-initialised outputs).
    init_from: str | None = None
    # An arch spec (JSON file or mapping, e.g. the search's output) replacing the preset's temporal layers.
    arch: str | dict[str, Any] | None = None
    # Add the per-frame text embedding to the denoiser (None keeps the preset's / starting model's choice).
    frame_text_conditioning: bool | None = None
    # Add x, y coordinates to the denoiser's first features (None keeps the preset's / starting model's choice).
    position_embedding: bool | None = None
    # Add the per-frame text-driven layout map to the denoiser (None keeps the preset's / starting model's choice).
    frame_layout_conditioning: bool | None = None
    # Train only the modules an image UNet lacks (None keeps the starting model's choice, e.g. an inflated
    # model's `mobilevid inflate --freeze-backbone`); recorded in the denoiser's config.
    freeze_backbone: bool | None = None
    vae: VAEStageConfig = field(default_factory=VAEStageConfig)
    vae_decoder: VAEDecoderStageConfig = field(default_factory=VAEDecoderStageConfig)
    layout: LayoutStageConfig = field(default_factory=LayoutStageConfig)
    denoiser: DenoiserStageConfig = field(default_factory=DenoiserStageConfig)
