"""FIFO-Diffusion (Kim et al., NeurIPS 2024, "FIFO-Diffusion: Generating Infinite Videos from Text
without Training"), as its official code runs it (jjihwan/FIFO-Diffusion_public,
scripts/evaluation/funcs.py: ``prepare_latents``, ``fifo_ddim_sampling``, ``shift_latents``), on a
rectified-flow model, plus a block variant for a few-step distilled student.

A queue holds latents at increasing noise levels, head to tail. Every iteration runs the model
once per window of f frames with each frame's own level (diagonal denoising), moves every
frame one level down with the sampler contract's per-frame step, emits the head (now clean)
and lets fresh noise enter at the tail. Memory is the queue's, whatever the video's length.

- Levels: the K nonzero levels of the schedule, ascending from the head. The teacher's FIFO
  uses K = f * n levels (n partitions), one frame per level; a 4-step student has K = 4, so
  blocks of ``f * n / K`` frames share a level (f/4 for n = 1): each iteration advances every
  block one level and emits one block, at a short clip's cost per frame. That variant is ours:
  no published system runs FIFO on a few-step student (the nearest, PA-VDM and SkyReels-V2's
  diffusion forcing, give blocks of frames shared levels on models trained for it).
- Start: one ordinary f-frame clip, whose clean latents fill the queue forward-noised to each
  slot's level; slot i takes frame ``max(0, i - (Q - f))`` (Q = queue length), so the first
  Q - f slots are copies of frame 0 and their output is warm-up, thrown away (``start="requeue"``,
  the official code's). ``start="continue"`` (ours) emits the clip as it is and fills the queue
  with frames f, f+1, ... forward-noised from the clip's last frame, so no frame is made twice:
  a 4-step student then makes N frames in exactly N/4 calls, the cost of short clips.
- Latent partitioning: the queue is cut into n windows of f frames.
- Lookahead denoising: 2n windows at stride f/2 over the queue with f/2 clean frames in
  front; only each window's second half is written back (its first half is context). Twice the
  calls. Every window reads one snapshot of the queue, so windows can run in any order, batched,
  or on several processes (``map_windows``).
- Per-frame prompts: every slot carries the frame number it becomes, and gets that frame's prompt.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from mobilevid.errors import MobilevidError
from mobilevid.longvideo.clip import forward_noise, step
from mobilevid.longvideo.denoiser import Denoiser
from mobilevid.longvideo.distributed import Split
from mobilevid.sampling import SamplerType, draw_noise

FIFO_STARTS = ("requeue", "continue")


def check_start(start: str) -> str:
    """A FIFO start by name (see the module docstring), or a one-line error."""
    if start not in FIFO_STARTS:
        raise MobilevidError(f"unknown FIFO start {start!r} (valid: {', '.join(FIFO_STARTS)})")
    return start


# (first frame number, latents (B, m, C, H, W)) for each emitted block, in order.
EmitFn = Callable[[int, torch.Tensor], None]
# Runs the windows of one iteration: (inputs, levels, prompts) per window -> velocities, in order.
WindowInputs = tuple[torch.Tensor, torch.Tensor, list[list[str]]]
MapWindows = Callable[[Denoiser, list[WindowInputs]], list[torch.Tensor]]
# Called after each iteration's step: (iteration, frame numbers, levels before, levels after) of the written slots.
TraceFn = Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], None]


@dataclass(frozen=True)
class FifoGeometry:
    """Window f, partitions n, K nonzero levels, lookahead on/off: where every slot and window sits."""

    window: int
    partitions: int
    levels: int
    lookahead: bool = True

    def __post_init__(self) -> None:
        f, n, k = self.window, self.partitions, self.levels
        if f < 1 or n < 1 or k < 1:
            raise MobilevidError(f"FIFO needs a window, partitions and levels >= 1, got f={f} n={n} K={k}")
        if (f * n) % k:
            raise MobilevidError(f"FIFO's queue of {f} x {n} frames cannot be split into blocks over {k} levels: "
                                 f"choose partitions so that {k} divides {f} x partitions")
        if self.lookahead and f % 2:
            raise MobilevidError(f"lookahead denoising needs an even window, got {f} frames")

    @property
    def queue(self) -> int:
        """Q: the noisy slots, f * n."""
        return self.window * self.partitions

    @property
    def block(self) -> int:
        """m: frames sharing a level (1 for the teacher's FIFO)."""
        return self.queue // self.levels

    @property
    def context(self) -> int:
        """c: clean frames in front of the queue (f/2 with lookahead)."""
        return self.window // 2 if self.lookahead else 0

    @property
    def warmup(self) -> int:
        """Frames made from copies of frame 0 and thrown away: Q - f."""
        return self.queue - self.window

    def windows(self) -> list[tuple[int, int, int]]:
        """(start, end, first written slot) of each window over the buffer (context + queue)."""
        f = self.window
        if self.lookahead:
            return [(w * f // 2, w * f // 2 + f, w * f // 2 + f // 2) for w in range(2 * self.partitions)]
        return [(w * f, (w + 1) * f, w * f) for w in range(self.partitions)]

    def slot_levels(self) -> torch.Tensor:
        """Level index (0 = clean, K = top) of every buffer slot: context at 0, queue block j at j + 1."""
        queue = torch.arange(self.queue) // self.block + 1
        return torch.cat([torch.zeros(self.context, dtype=torch.long), queue])

    def iterations(self, num_frames: int) -> int:
        """Iterations until frame ``num_frames - 1`` leaves the queue."""
        return math.ceil((num_frames + self.warmup) / self.block)


@dataclass
class FifoStats:
    iterations: int = 0
    window_calls: int = 0  # model evaluations of one f-frame window


def batched_windows(denoise: Denoiser, windows: list[WindowInputs]) -> list[torch.Tensor]:
    """All windows of an iteration as one batch (they read one snapshot, so they are independent)."""
    x = torch.cat([w[0] for w in windows])
    sigma = torch.cat([w[1] for w in windows])
    prompts = [row for w in windows for row in w[2]]
    return list(denoise(x, sigma, prompts).chunk(len(windows)))


def split_windows(split: Split, group: int = 1) -> MapWindows:
    """``map_windows`` over processes: windows in groups of ``group`` (one batch each), groups dealt round robin.

    The grouping, not the number of processes, sets every forward pass's batch, so one process
    and several compute each window with the same batch shape and give the same video bit for bit
    (a convolution's float rounding can depend on its batch size).
    """

    def run(denoise: Denoiser, windows: list[WindowInputs]) -> list[torch.Tensor]:
        out = torch.zeros(len(windows), *windows[0][0].shape)
        groups = [list(range(i, min(i + group, len(windows)))) for i in range(0, len(windows), group)]
        for k in split.mine(len(groups)):
            out[groups[k]] = torch.stack(batched_windows(denoise, [windows[i] for i in groups[k]]))
        return list(split.merge(out))

    return run


@torch.no_grad()
def fifo_sample(denoise: Denoiser, sigmas: torch.Tensor, kind: SamplerType, geometry: FifoGeometry,
                num_frames: int, prompt_of: Callable[[int], str], first_clip: torch.Tensor,
                generators: Sequence[torch.Generator], emit: EmitFn,
                map_windows: MapWindows | None = None, trace: TraceFn | None = None,
                start: str = "requeue") -> FifoStats:
    """Stream ``num_frames`` latent frames to ``emit``, in order, from a queue of constant size.

    sigmas: the schedule's K + 1 levels, descending from 1 to 0 (the teacher's f*n-step
    schedule, or a student's 4 levels and 0); kind: the contract's step (Euler or re-noise);
    first_clip (B, f, C, H, W): clean latents of an ordinary clip of frames 0..f-1 (its frames
    seed the queue); prompt_of(frame): the prompt of video frame ``frame``; generators: one per
    video, drawing (in order) the queue's start noise, then per iteration any re-noise step's
    fresh noise and the tail's fresh noise. map_windows runs an iteration's windows (default: one
    forward pass per window in this process; ``split_windows`` shares them among processes).
    start: "requeue" (the clip's frames re-made through the queue, as the paper) or "continue" (the
    clip emitted as it is, the queue seeded from its last frame); see the module docstring.
    """
    g = geometry
    f, q, c, m = g.window, g.queue, g.context, g.block
    map_windows = map_windows or split_windows(Split())
    if len(sigmas) != g.levels + 1 or float(sigmas[-1]) != 0.0:
        raise MobilevidError(f"FIFO over {g.levels} levels needs {g.levels + 1} sigmas ending at 0, got {len(sigmas)}")
    if abs(float(sigmas[0]) - 1.0) > 1e-6:
        raise MobilevidError(f"FIFO's fresh frames enter as pure noise: the top level must be 1, got {float(sigmas[0])}")
    if first_clip.shape[1] != f:
        raise MobilevidError(f"FIFO starts from a clip of {f} frames, got {first_clip.shape[1]}")
    if num_frames < 1:
        raise MobilevidError(f"frames must be at least 1, got {num_frames}")
    check_start(start)
    ascending = sigmas.flip(0).to(torch.float32)  # index 0 = clean, K = top
    index = g.slot_levels()
    slot_sigma = ascending[index]  # (c + Q,)
    next_sigma = ascending[(index - 1).clamp(min=0)]
    b, frame_shape = first_clip.shape[0], first_clip.shape[2:]

    # Frame numbers the slots become; negative = warm-up (copies of frame 0). Continuing, the queue starts at
    # frame f and its slots are copies of frame f - 1 (the clip's frames sit in the clean context, if any).
    warmup = g.warmup if start == "requeue" else -f
    position = torch.arange(-c, q) - warmup
    source = first_clip[:, position.clamp(min=0, max=f - 1)]
    start_noise = draw_noise(generators, (c + q, *frame_shape)).to(first_clip)
    buf = forward_noise(source, start_noise, slot_sigma.reshape(1, -1, 1, 1, 1))
    stats = FifoStats()
    rows = len(generators)
    if rows != b:
        raise MobilevidError(f"one generator per video: {b} videos, {rows} generators")

    if start == "continue":
        emit(0, first_clip[:, :min(f, num_frames)].clone())
    iterations = g.iterations(num_frames) if start == "requeue" else max(0, math.ceil((num_frames - f) / m))
    for it in range(iterations):
        frames = position.clamp(min=0, max=num_frames - 1).tolist()
        slot_prompts = [prompt_of(p) for p in frames]
        inputs = []
        for start, end, _ in g.windows():
            sig = slot_sigma[start:end].expand(b, -1).contiguous()
            inputs.append((buf[:, start:end], sig, [slot_prompts[start:end]] * b))
        outputs = map_windows(denoise, inputs)
        stats.window_calls += len(inputs)
        velocity = torch.zeros_like(buf)
        for (start, end, first), v in zip(g.windows(), outputs, strict=True):
            velocity[:, first:end] = v[:, first - start:]
        queue = slice(c, c + q)
        before, after = slot_sigma[queue], next_sigma[queue]
        buf[:, queue] = step(kind, buf[:, queue], velocity[:, queue], before.expand(b, -1), after.expand(b, -1),
                             generators)
        if trace is not None:
            trace(it, position[queue].clone(), before, after)
        head = position[c:c + m]
        keep = (head >= 0) & (head < num_frames)
        if bool(keep.any()):
            emit(int(head[keep][0]), buf[:, c:c + m][:, keep].clone())
        # Dequeue the head block; fresh noise enters at the tail.
        buf = torch.cat([buf[:, m:], draw_noise(generators, (m, *frame_shape)).to(buf)], dim=1)
        position = torch.cat([position[m:], position[-1] + 1 + torch.arange(m)])
        stats.iterations += 1
    return stats


def teacher_geometry(window: int, partitions: int, lookahead: bool) -> FifoGeometry:
    """The FIFO-Diffusion paper's geometry: f * n levels, one frame per level."""
    return FifoGeometry(window, partitions, window * partitions, lookahead)


def student_geometry(window: int, levels: int, partitions: int = 1, lookahead: bool = False) -> FifoGeometry:
    """Blocks of ``window * partitions / levels`` frames share each of a few-step student's levels."""
    return FifoGeometry(window, partitions, levels, lookahead)
