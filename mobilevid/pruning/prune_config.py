"""The pruning recipe: what to prune, how much, by which criterion, and the recovery distillation after it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class RecoverConfig:
    """A short distillation of the pruned component from the unpruned one (the teacher).

    VAE decoder: the pruned decoder matches the unpruned decoder on the frozen encoder's
    latents of real clips (SnapFusion, Li et al. 2023, sec. 4, recovers its pruned decoder
    this way). Denoiser: output matching, the pruned model's prediction against the unpruned
    model's on the same noised latents, text and time.
    """

    steps: int = 0  # 0 = no recovery (the pruned model as it is)
    lr: float = 2e-4
    batch_size: int = 2  # clips per step
    frames: int = 8  # frames per clip (the decoder's temporal convs need >= 2); the denoiser uses the model's
    warmup_steps: int = 0
    grad_clip: float = 1.0
    ema_decay: float | None = None
    # Weight of the plain data loss beside teacher matching: reconstruction of the real clip
    # (decoder) or the flow-matching velocity (denoiser). 0 = pure distillation.
    data_weight: float = 0.0
    mse_weight: float = 1.0  # decoder: L1 + mse_weight * L2, as the VAE stages
    object_weight: float = 10.0  # decoder: extra weight on pixels unlike their frame's median (small objects)
    caption_dropout: float = 0.1  # denoiser: empty captions, so guided models keep their unconditional branch
    # Denoiser: the share of steps at the model's own fixed noise levels (a distilled student
    # samples only there); the rest draw logit-normal times (SD3).
    own_levels_prob: float = 0.5
    # Denoiser of a distilled student: the share of samples taken from the unpruned student's own
    # sampling run (noise, then its re-noised clean estimates) at a random fixed level, in place
    # of a noised real clip: the inputs the student meets when it samples.
    trajectory_prob: float = 0.0
    time_mean: float = 0.0
    time_std: float = 1.0
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    log_every: int = 10
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"


@dataclass
class PruneConfig:
    """``mobilevid prune``: structured channel pruning of one component, then (optionally) recovery."""

    component: Literal["denoiser", "vae_decoder"] = "vae_decoder"
    ratio: float = 0.5  # share of channels removed (in whole GroupNorm groups)
    importance: str = "l1"  # l1, l2, taylor, fpgm, random (mobilevid/pruning/importance.py)
    calibration_batches: int = 2  # batches of real clips whose loss gradient Taylor importance reads
    data: str = "shapes+digits+photos"
    seed: int = 0
    recover: RecoverConfig = field(default_factory=RecoverConfig)
    extra: dict[str, str] = field(default_factory=dict)  # free-form notes recorded with the run
