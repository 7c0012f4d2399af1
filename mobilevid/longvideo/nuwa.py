"""NUWA-XL, "diffusion over diffusion" (Yin et al., ACL 2023, sec. 3; no official code).

One masked model in two modes. Global: L keyframes spread over the whole video, each with its
own prompt, none given. Local: the first and last frame of a span given through the visual
condition (known latents + mask), the L - 2 frames between them generated. Recursing, with
L = 16: 16 -> 16 + 15 * 14 = 226 -> 3376 frames; level l's frames are ``(L - 1) ** (depth - l)``
frames apart. Every local call of one level is independent of the others, so a level is one
batch (or one share per process): the critical path is depth x steps, not windows x steps.
fps conditioning carries each level's stride (a clip of frames s apart plays at fps / s).

Other lengths: the depth is the smallest that covers the video with L up to the model's
window, L the smallest that covers it at that depth, and the last level's calls past the end
are cut (``plan``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from mobilevid.errors import MobilevidError
from mobilevid.longvideo.clip import sample_clip
from mobilevid.longvideo.denoiser import Denoiser
from mobilevid.longvideo.distributed import Split
from mobilevid.sampling import SamplerType, draw_noise


@dataclass(frozen=True)
class NuwaLevel:
    """One depth of the recursion: the frames each call covers (first and last known from level 2 on)."""

    stride: int
    calls: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class NuwaPlan:
    num_frames: int
    keyframes: int  # L
    depth: int
    levels: tuple[NuwaLevel, ...]

    @property
    def span(self) -> int:
        """Frames the full recursion covers, ``(L - 1) ** depth + 1`` (the last level is cut to num_frames)."""
        return (self.keyframes - 1) ** self.depth + 1

    @property
    def window_calls(self) -> int:
        return sum(len(level.calls) for level in self.levels)


def plan(num_frames: int, max_window: int, keyframes: int | None = None) -> NuwaPlan:
    """The recursion for ``num_frames`` frames with at most ``max_window`` frames per call."""
    if num_frames < 1:
        raise MobilevidError(f"frames must be at least 1, got {num_frames}")
    if keyframes is not None and not 3 <= keyframes <= max_window:
        raise MobilevidError(f"NUWA-XL keyframes must be between 3 and the model's {max_window} frames, got {keyframes}")
    if num_frames <= (keyframes or max_window):
        return NuwaPlan(num_frames, num_frames, 1, (NuwaLevel(1, (tuple(range(num_frames)),)),))
    if max_window < 3:
        raise MobilevidError(f"NUWA-XL needs a window of at least 3 frames, the model has {max_window}")
    top = keyframes or max_window
    depth = 1
    while (top - 1) ** depth + 1 < num_frames:
        depth += 1
    size = keyframes
    if size is None:  # the smallest L that covers the video at this depth: fewest wasted frames
        size = 3
        while (size - 1) ** depth + 1 < num_frames:
            size += 1
    levels = [NuwaLevel((size - 1) ** (depth - 1), (tuple(k * (size - 1) ** (depth - 1) for k in range(size)),))]
    for d in range(2, depth + 1):
        parent, stride = levels[-1], (size - 1) ** (depth - d)
        anchors = sorted({p for call in parent.calls for p in call})
        calls = []
        for a, z in zip(anchors, anchors[1:], strict=False):
            if z - a != parent.stride:
                raise AssertionError("anchors of one level are one stride apart")
            if a + stride >= num_frames:  # nothing of this span falls inside the video: cut
                break
            calls.append(tuple(a + j * stride for j in range(size)))
        levels.append(NuwaLevel(stride, tuple(calls)))
    return NuwaPlan(num_frames, size, depth, tuple(levels))


def call_generator(seed: int, level: int, first_frame: int) -> torch.Generator:
    """The generator of one call: seeded from (video seed, level, first frame), batch-independent."""
    digest = hashlib.sha256(f"nuwa:{seed}:{level}:{first_frame}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


@dataclass
class NuwaStats:
    window_calls: int = 0  # model evaluations of one L-frame window, by this process
    rounds: int = 0  # sequential sampling steps (the critical path): depth x steps
    batches: list[int] | None = None  # local calls per level


@torch.no_grad()
def nuwa_sample(denoise: Denoiser, sigmas: torch.Tensor, kind: SamplerType, nuwa_plan: NuwaPlan,
                prompt_of: Callable[[int], str], seeds: Sequence[int],
                frame_shape: Sequence[int], fps: float, max_batch: int | None = None,
                on_level: Callable[[int, int], None] | None = None, split: Split = Split()
                ) -> tuple[torch.Tensor, NuwaStats]:
    """Latents (B, num_frames, C, H, W) of one video per seed.

    prompt_of(frame) gives each keyframe and local frame its own prompt; ``max_batch`` bounds a
    level's batch in rows (chunks of one level still form one round, as parallel devices would);
    on_level(level, frames made so far) reports progress. Noise: every call has its own
    generator (``call_generator``), so a video does not depend on how a level is batched or split.
    ``split``: this process's share of each level's calls (``distributed.py``); every process
    returns the whole video.
    """
    b = len(seeds)
    span = nuwa_plan.levels[0].calls[0][-1] + 1
    for level in nuwa_plan.levels[1:]:
        span = max(span, level.calls[-1][-1] + 1 if level.calls else 0)
    video = torch.zeros(b, span, *frame_shape)
    made = torch.zeros(span, dtype=torch.bool)
    stats = NuwaStats(batches=[])
    steps = len(sigmas) - 1
    for depth, level in enumerate(nuwa_plan.levels):
        local = depth > 0
        calls = [level.calls[i] for i in split.mine(len(level.calls))]
        # This process's new frames land in `share` (zero elsewhere); the merge sums every process's share.
        share = torch.zeros_like(video)
        new = torch.zeros(span, dtype=torch.bool)
        for call in level.calls:
            new[list(call[1:-1] if local else call)] = True
        chunk = max_batch or len(calls) * b
        per_chunk = max(1, chunk // b)
        for c0 in range(0, len(calls), per_chunk):
            part = calls[c0:c0 + per_chunk]
            rows = [(i, call) for i in range(b) for call in part]
            idx = torch.tensor([call for _, call in rows])  # (R, L)
            vid = torch.tensor([i for i, _ in rows])
            gens = [call_generator(seeds[i], depth, call[0]) for i, call in rows]
            noise = draw_noise(gens, (idx.shape[1], *frame_shape))
            known = mask = None
            if local:
                mask = torch.zeros(idx.shape)
                mask[:, 0] = 1
                mask[:, -1] = 1
                known = video[vid[:, None], idx] * mask.reshape(*mask.shape, 1, 1, 1)
            prompts = [[prompt_of(p) for p in call] for _, call in rows]
            rate = torch.full((len(rows),), fps / level.stride)
            out = sample_clip(denoise, noise, sigmas, kind, prompts, gens, known, mask, rate)
            share[vid[:, None], idx] = out
        share = split.merge(share)
        video[:, new] = share[:, new]
        made |= new
        stats.window_calls += len(calls) * b * steps
        stats.rounds += steps
        stats.batches.append(len(calls))
        if on_level is not None:
            on_level(depth, int(made[:nuwa_plan.num_frames].sum()))
    return video[:, :nuwa_plan.num_frames], stats
