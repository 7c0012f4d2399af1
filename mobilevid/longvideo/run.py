"""A long video from a model folder: pick the method's levels, check the model was trained for it,
sample, decode as frames are made and stream them to an MP4.

Default method: FIFO-Diffusion. It streams each frame as it leaves the queue with memory that
does not grow with the length, runs on any model with per-frame timesteps (training-free, as
in the paper) and on the 4-step student at a short clip's cost per frame. NUWA-XL needs a
model trained for first/last-frame infilling and holds the whole video's latents until its
last level ends; the autoregressive baseline drifts and its windows run one after another.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from mobilevid.errors import MobilevidError
from mobilevid.longvideo.autoregressive import autoregressive_sample, window_starts
from mobilevid.longvideo.clip import sample_clip
from mobilevid.longvideo.denoiser import ModelDenoiser
from mobilevid.longvideo.distributed import process_split
from mobilevid.longvideo.fifo import (
    check_start,
    fifo_sample,
    split_windows,
    student_geometry,
    teacher_geometry,
)
from mobilevid.longvideo.nuwa import nuwa_sample, plan
from mobilevid.longvideo.prompt_schedule import PromptSchedule
from mobilevid.longvideo.stream import StreamingDecoder
from mobilevid.models.presets import ModelConfig
from mobilevid.sampling import (
    RENOISE,
    check_guidance,
    draw_noise,
    prompt_generators,
    sampler_type,
    schedule_sigmas,
)
from mobilevid.video_io import VideoStreamWriter

logger = logging.getLogger("mobilevid.longvideo")

METHODS = ("fifo", "nuwa", "autoregressive")
DEFAULT_METHOD = "fifo"
FIFO_TEACHER_PARTITIONS = 4  # the paper's n (S = f * n = 64 levels for 16 frames)


@dataclass
class LongVideoResult:
    path: Path
    frames: int
    method: str
    seconds: float
    window_calls: int  # model evaluations of one clip window (a guided one counts two)
    rounds: int  # sequential denoiser rounds: the critical path
    detail: str


def check_trained_for(method: str, config: ModelConfig) -> list[str]:
    """Raise when the model lacks what ``method`` needs; return one-line notes on what it would like."""
    if method not in METHODS:
        raise MobilevidError(f"unknown long-video method '{method}' (valid: {', '.join(METHODS)})")
    trained = config.trained_for
    notes = []
    if method == "nuwa":
        if not config.denoiser.visual_condition:
            raise MobilevidError("NUWA-XL needs a denoiser with a visual condition (visual_condition=true in its "
                                 "config); this model has none: use --long fifo")
        if not trained.visual_condition:
            raise MobilevidError("NUWA-XL needs a model trained for first/last-frame infilling, and this model's "
                                 "model_index.json does not record it (trained_for.visual_condition); train with "
                                 "denoiser.visual_condition_prob > 0, use the built-in --model nuwa, or use --long fifo")
        if trained.frame_strides == [1]:
            notes.append("note: the model saw clips at stride 1 only, so NUWA-XL's keyframe levels ask its fps "
                         "conditioning for strides it was not trained on")
    if method == "fifo" and not trained.per_frame_times:
        notes.append("note: the model was not trained with per-frame noise levels; FIFO-Diffusion runs training-free, "
                     "as in the paper")
    return notes


def nuwa_keyframes(config: ModelConfig, num_frames: int, keyframes: int | None) -> int | None:
    """L for NUWA-XL: the user's; else, for a model trained at strides (window - 1) ** k, the full window, so
    every level runs at a stride it was trained on (16 -> 226 -> 3376 frames, the last level cut); else None
    (``plan`` picks the smallest L that covers the video)."""
    if keyframes is not None:
        return keyframes
    window = config.num_frames
    if num_frames > window and window - 1 in config.trained_for.frame_strides:
        return window
    return None


def check_options(method: str, partitions: int | None, lookahead: bool | None, keyframes: int | None,
                  overlap: int | None, max_batch: int | None = None) -> None:
    """Options that belong to another method are a mistake worth stopping for."""
    if method not in METHODS:
        raise MobilevidError(f"unknown long-video method '{method}' (valid: {', '.join(METHODS)})")
    if method != "fifo" and (partitions is not None or lookahead is not None):
        raise MobilevidError("--partitions and --lookahead/--no-lookahead apply to --long fifo")
    if method != "nuwa" and (keyframes is not None or max_batch is not None):
        raise MobilevidError("--keyframes and --max-batch apply to --long nuwa")
    if max_batch is not None and max_batch < 1:
        raise MobilevidError(f"--max-batch must be at least 1, got {max_batch}")
    if method != "autoregressive" and overlap is not None:
        raise MobilevidError("--overlap applies to --long autoregressive")


def generate_long(pipe, schedule: PromptSchedule, num_frames: int, output: str | Path, method: str = DEFAULT_METHOD,
                  partitions: int | None = None, lookahead: bool | None = None, steps: int | None = None,
                  guidance: float | None = None, seed: int = 0, keyframes: int | None = None,
                  overlap: int | None = None, progress: bool = True, max_batch: int | None = None,
                  fifo_start: str | None = None) -> LongVideoResult:
    """Write a ``num_frames``-frame video for ``schedule`` to ``output`` (.mp4) with ``method``.

    ``fifo_start``: how FIFO's queue starts from the first clip (``mobilevid.longvideo.fifo``); default
    "continue" for a few-step student (no frame made twice: a short clip's cost per frame), "requeue" (the
    paper's) for a teacher.

    ``max_batch`` (NUWA-XL): at most this many local calls per forward pass, which bounds memory (default: a
    whole level at once); the video does not change.
    """
    check_options(method, partitions, lookahead, keyframes, overlap, max_batch)
    for note in check_trained_for(method, pipe.config):
        logger.warning(note)
    if num_frames < 1:
        raise MobilevidError(f"frames must be at least 1, got {num_frames}")
    schedule.check_fits(num_frames)
    window = pipe.config.num_frames
    kind = sampler_type(pipe.fixed_sigmas, steps)
    g = check_guidance(pipe.config.sampling.guidance if guidance is None else guidance)
    d = pipe.denoiser.config
    shape = (d.in_channels, d.latent_height, d.latent_width)
    generators = prompt_generators(seed, 1)

    # Every method's levels and geometry first: a bad combination stops before any sampling.
    if method == "fifo":
        if kind == RENOISE:
            sigmas = pipe.sigmas(steps)
            geometry = student_geometry(window, len(sigmas) - 1, partitions or 1, bool(lookahead))
        else:
            n = partitions or FIFO_TEACHER_PARTITIONS
            if steps is not None and steps != window * n:
                raise MobilevidError(f"FIFO-Diffusion takes frames x partitions = {window} x {n} = {window * n} "
                                     "steps; set --partitions instead of --steps")
            geometry = teacher_geometry(window, n, True if lookahead is None else lookahead)
            sigmas = schedule_sigmas(pipe.scheduler, geometry.levels)
        fifo_start = check_start(fifo_start or ("continue" if kind == RENOISE else "requeue"))
        detail = (f"{geometry.levels} levels, {geometry.partitions} partition(s), block {geometry.block}, "
                  f"lookahead {'on' if geometry.lookahead else 'off'}, start {fifo_start}")
    elif method == "nuwa":
        sigmas = pipe.sigmas(steps)
        nuwa_plan = plan(num_frames, window, nuwa_keyframes(pipe.config, num_frames, keyframes))
        untrained = sorted({level.stride for level in nuwa_plan.levels} - set(pipe.config.trained_for.frame_strides))
        if untrained and pipe.config.trained_for.frame_strides != [1]:
            logger.warning("note: NUWA-XL's levels run at strides %s, which the model was not trained on (it was on "
                           "%s)", untrained, pipe.config.trained_for.frame_strides)
        detail = f"L = {nuwa_plan.keyframes}, depth {nuwa_plan.depth}, local calls per level " \
                 f"{[len(level.calls) for level in nuwa_plan.levels]}"
    else:
        sigmas = pipe.sigmas(steps)
        k = window // 4 if overlap is None else overlap
        starts = window_starts(num_frames, window, k)
        detail = f"{len(starts)} windows of {window} frames, {k} known"

    split = process_split()
    if split.world > 1 and method == "autoregressive":
        raise MobilevidError("the autoregressive baseline's windows run one after another: run it in one process")
    denoise = ModelDenoiser(pipe.denoiser, pipe.text_encoder, g, pipe.config.fps)
    start = time.perf_counter()
    bar = tqdm(total=num_frames, unit="frame", desc=method, disable=not progress or not split.is_main)
    # Every process computes its share and holds the whole state; the main process writes the video.
    writer = (VideoStreamWriter(output, pipe.config.fps, pipe.config.height, pipe.config.width) if split.is_main
              else contextlib.nullcontext(None))
    with writer as out:
        decoder = StreamingDecoder(pipe.vae, out.write if out is not None else None, chunk=window)

        def emit(_: int, latents: torch.Tensor) -> None:
            decoder.push(latents[0])
            bar.update(latents.shape[1])

        if method == "fifo":
            # The queue starts from an ordinary clip at the model's own levels.
            clip_sigmas = pipe.sigmas(None)
            first = sample_clip(denoise, draw_noise(generators, (window, *shape)), clip_sigmas,
                                sampler_type(pipe.fixed_sigmas, None), [schedule.for_frames(range(window))], generators)
            stats = fifo_sample(denoise, sigmas, kind, geometry, num_frames, schedule.at, first, generators, emit,
                                map_windows=split_windows(split), start=fifo_start)
            rounds = stats.iterations + len(clip_sigmas) - 1
        elif method == "nuwa":
            seen = [0]

            def on_level(_: int, made: int) -> None:
                bar.update(made - seen[0])
                seen[0] = made

            latents, nstats = nuwa_sample(denoise, sigmas, kind, nuwa_plan, schedule.at, [seed], shape,
                                          pipe.config.fps, max_batch=max_batch, on_level=on_level, split=split)
            for i in range(0, num_frames, window):
                decoder.push(latents[0, i:i + window])
            rounds = nstats.rounds
        else:
            astats = autoregressive_sample(denoise, sigmas, kind, window, k, num_frames, schedule.at, generators,
                                           shape, emit, pipe.config.fps)
            rounds = astats.rounds
        decoder.close()
    bar.close()
    return LongVideoResult(Path(output), decoder.frames, method, time.perf_counter() - start, denoise.calls, rounds,
                           detail)
