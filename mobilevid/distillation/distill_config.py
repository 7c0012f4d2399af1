"""The distillation recipe (SnapGen-V / SF-V / LADD); recipes and ``--set`` override it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mobilevid.config import PositiveFloat, PositiveInt, Probability, Seed


@dataclass
class DistillConfig:
    """``mobilevid distill``: a few-step student from a teacher, adversarially."""

    data: str = "shapes+digits+photos"
    # How a video folder's clips are fitted to the teacher's size (random/center crop or resize; see TrainConfig).
    data_crop: Literal["random", "center", "resize"] = "random"
    seed: Seed = 0
    steps: int = 1000  # training iterations (one discriminator and one student update each)
    student_steps: int = 4  # sampling steps of the student
    student_sigmas: list[float] | None = None  # fixed noise levels; None = uniform 1, (n-1)/n, ..., 1/n
    # Warm start: a student folder of this teacher (same levels) to continue from instead of the
    # teacher's weights, e.g. "default". Its weights only: heads and optimiser moments start fresh.
    student_init: str | None = None
    batch_size: PositiveInt = 2
    lr_student: PositiveFloat = 5e-5
    lr_heads: PositiveFloat = 2e-4
    ema_decay: float = 0.99
    grad_clip: float = 1.0
    teacher_steps: int = 16  # Euler steps of the teacher over the full path, for the reconstruction target
    teacher_guidance: float = 4.0  # baked into the student through the target
    adv_weight: float = 1.0  # 0 = ablation without the adversarial term
    recon_weight: float = 1.0  # 0 = ablation without the reconstruction term
    temporal_heads: bool = True  # False = ablation without temporal discriminator heads
    r1_weight: float = 1e-4  # approximate R1 (LADD): output change under small input noise on real clips
    r1_sigma: float = 0.01
    renoise_mean: float = 0.0  # logit-normal level at which the discriminator sees its inputs
    renoise_std: float = 1.0
    image_ratio: Probability = 0.1
    # Backward simulation (DMD2, Yin et al. 2024): this share of the iterations at a level below 1
    # gives the student its own few-step estimate re-noised to that level (what it meets when it
    # samples) instead of a noised real clip; the teacher's target starts from the same point.
    # Experimental: no recipe uses it; on the built-in teacher it lowered digit accuracy (docs/history.md).
    backward_simulation: Probability = 0.0
    # Per-block levels for FIFO on the student (diffusion forcing, Chen et al. 2024; FVDM's vectorised
    # timesteps): this share of the iterations puts a clip's frames in ``student_steps`` blocks at
    # FIFO's staircase, the first block at the lowest level and the last at 1 (mobilevid/longvideo/fifo.py).
    per_block_levels: Probability = 0.0
    checkpoint_every: int = 100
    keep_checkpoints: int = 2
    log_every: int = 10
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    extra: dict[str, str] = field(default_factory=dict)  # free-form notes recorded with the run
