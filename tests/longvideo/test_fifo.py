import pytest
import torch
from exact_denoiser import ExactDenoiser, frame_prompt, known_clip

from mobilevid.errors import MobilevidError
from mobilevid.longvideo.clip import sample_clip
from mobilevid.longvideo.fifo import FifoGeometry, fifo_sample, student_geometry, teacher_geometry
from mobilevid.sampling import EULER, RENOISE

STUDENT_SIGMAS = torch.tensor([1.0, 0.9, 0.75, 0.5, 0.0])


def teacher_sigmas(levels: int) -> torch.Tensor:
    # A shifted schedule like the model's (shift 3), from 1 to 0.
    s = torch.linspace(1, 0, levels + 1)
    return 3 * s / (1 + 2 * s)


def run(geometry, sigmas, kind, clip, num_frames, denoise=None, trace=None, start="requeue"):
    denoise = denoise or ExactDenoiser(clip)
    f = geometry.window
    gens = [torch.Generator().manual_seed(0)]
    emitted = []
    # The first clip comes from an ordinary sample of frames 0..f-1, as the CLI makes it.
    first = sample_clip(denoise, torch.randn(1, f, *clip.shape[1:]), sigmas, kind,
                        [[frame_prompt(k) for k in range(f)]], gens)
    stats = fifo_sample(denoise, sigmas, kind, geometry, num_frames, frame_prompt, first, gens,
                        lambda first, lat: emitted.append((first, lat)), trace=trace, start=start)
    return emitted, stats


@pytest.mark.parametrize("lookahead", [True, False])
@pytest.mark.parametrize("partitions", [1, 2])
def test_teacher_fifo_returns_the_known_clip(lookahead, partitions):
    clip = known_clip(23)
    g = teacher_geometry(4, partitions, lookahead)
    emitted, stats = run(g, teacher_sigmas(g.levels), EULER, clip, 23)
    starts = [s for s, _ in emitted]
    assert starts == list(range(23))  # one frame per iteration, in order, warm-up dropped
    video = torch.cat([lat for _, lat in emitted], dim=1)[0]
    torch.testing.assert_close(video, clip, atol=1e-4, rtol=1e-4)
    assert stats.iterations == 23 + g.queue - g.window
    assert stats.window_calls == stats.iterations * (2 * partitions if lookahead else partitions)


@pytest.mark.parametrize("lookahead", [False, True])
def test_student_fifo_blocks_share_levels_and_return_the_clip(lookahead):
    clip = known_clip(30)
    g = student_geometry(8, levels=4, partitions=1, lookahead=lookahead)
    assert g.block == 2
    emitted, stats = run(g, STUDENT_SIGMAS, RENOISE, clip, 30)
    assert [s for s, _ in emitted] == list(range(0, 30, 2))  # one block of f/4 frames per call
    video = torch.cat([lat for _, lat in emitted], dim=1)[0]
    torch.testing.assert_close(video, clip, atol=1e-5, rtol=1e-5)
    # No lookahead: one window call per block of f/4 frames = 4 calls per f frames, a short clip's cost.
    calls_per_frame = stats.window_calls / 30
    assert calls_per_frame <= (2 if lookahead else 1) * 4 / 8 + 1e-9


@pytest.mark.parametrize("lookahead", [False, True])
def test_continuing_from_the_clip_makes_no_frame_twice(lookahead):
    # The clip is emitted as it is and the queue goes on from frame f: 30 frames of a 4-step student over
    # an 8-frame window cost 4 calls (the clip) + 11 (a block of 2 frames each), 0.5 per frame = 4 / 8,
    # exactly a short clip's cost; the known clip comes back whole.
    clip = known_clip(30)
    g = student_geometry(8, levels=4, partitions=1, lookahead=lookahead)
    denoise = ExactDenoiser(clip)
    emitted, stats = run(g, STUDENT_SIGMAS, RENOISE, clip, 30, denoise=denoise, start="continue")
    assert [s for s, _ in emitted] == [0, *range(8, 30, 2)]
    torch.testing.assert_close(torch.cat([lat for _, lat in emitted], dim=1)[0], clip, atol=1e-5, rtol=1e-5)
    assert stats.iterations == 11
    if not lookahead:
        assert (len(denoise.calls)) / 30 == 4 / 8  # the clip's 4 calls and one per iteration
    # The queue's first window: frames 8..15 (continuing), with the clip's last frames as clean context.
    first_window = denoise.calls[4]["prompts"][0]
    assert first_window == [frame_prompt(k) for k in (range(4, 12) if lookahead else range(8, 16))]
    # A video no longer than the clip is the clip.
    emitted, stats = run(g, STUDENT_SIGMAS, RENOISE, clip, 5, start="continue")
    assert stats.iterations == 0 and [lat.shape[1] for _, lat in emitted] == [5]
    with pytest.raises(MobilevidError, match="unknown FIFO start"):
        run(g, STUDENT_SIGMAS, RENOISE, clip, 5, start="later")


def test_every_frame_passes_every_level_once_in_order():
    clip = known_clip(20)
    g = teacher_geometry(4, 2, lookahead=True)
    sigmas = teacher_sigmas(g.levels)
    seen: dict[int, list[tuple[int, float, float]]] = {}

    def trace(it, frames, before, after):
        for p, b, a in zip(frames.tolist(), before.tolist(), after.tolist(), strict=True):
            seen.setdefault(p, []).append((it, b, a))

    run(g, sigmas, EULER, clip, 20, trace=trace)
    ascending = sigmas.flip(0).tolist()
    for p in range(g.window, 20):  # frames that enter the queue at the tail as fresh noise
        its = [it for it, _, _ in seen[p]]
        assert its == list(range(its[0], its[0] + g.levels))  # consecutive iterations
        assert [b for _, b, _ in seen[p]] == ascending[1:][::-1]  # every level, top to bottom, once
        assert [a for _, _, a in seen[p]] == ascending[:-1][::-1]
    for p in range(1, g.window):  # frames of the first clip start part-way down
        assert [a for _, _, a in seen[p]][-1] == 0.0


class CorruptFirstHalves(ExactDenoiser):
    """Returns a wrong velocity for the first half of every window: harmless only if never written back."""

    def __call__(self, x, sigma, prompts, cond=None, cond_mask=None, fps=None):
        v = super().__call__(x, sigma, prompts, cond, cond_mask, fps)
        v[:, : x.shape[1] // 2] += 100.0
        return v


def test_lookahead_writes_back_only_second_halves():
    clip = known_clip(18)
    g = teacher_geometry(4, 2, lookahead=True)
    emitted, _ = run(g, teacher_sigmas(g.levels), EULER, clip, 18, denoise=CorruptFirstHalves(clip))
    video = torch.cat([lat for _, lat in emitted], dim=1)[0]
    torch.testing.assert_close(video, clip, atol=1e-4, rtol=1e-4)
    # Control: without lookahead every slot is written, and the same corruption shows.
    g = teacher_geometry(4, 2, lookahead=False)
    emitted, _ = run(g, teacher_sigmas(g.levels), EULER, clip, 18, denoise=CorruptFirstHalves(clip))
    video = torch.cat([lat for _, lat in emitted], dim=1)[0]
    assert (video - clip).abs().max() > 1.0


def test_windows_see_each_slots_prompt_and_level():
    clip = known_clip(12)
    g = teacher_geometry(4, 1, lookahead=True)
    denoise = ExactDenoiser(clip)
    run(g, teacher_sigmas(g.levels), EULER, clip, 12, denoise=denoise)
    fifo_calls = denoise.calls[g.levels:]  # after the first clip's steps: 2n = 2 windows per iteration
    assert len(fifo_calls) == 2 * (12 + g.warmup) and all(c["frames"] == 4 for c in fifo_calls)
    first = fifo_calls[0]
    # Window 0: two clean context copies of frame 0, then the head slots; levels ascend along the queue.
    assert first["sigma"][0, :2].tolist() == [0.0, 0.0]
    assert torch.all(first["sigma"][:, 1:] >= first["sigma"][:, :-1])


def test_memory_is_the_queue_whatever_the_length():
    # The queue is allocated once and shifted: the biggest tensor a window call sees has the same
    # size for 10 and 200 frames.
    sizes = []
    for n in (10, 200):
        clip = known_clip(n)
        denoise = ExactDenoiser(clip)
        run(teacher_geometry(4, 2, True), teacher_sigmas(8), EULER, clip, n, denoise=denoise)
        sizes.append(max(c["batch"] * c["frames"] for c in denoise.calls))
    assert sizes[0] == sizes[1]


def test_bad_geometry_is_a_clear_error():
    with pytest.raises(MobilevidError, match="blocks"):
        FifoGeometry(window=6, partitions=1, levels=4)
    with pytest.raises(MobilevidError, match="even window"):
        FifoGeometry(window=5, partitions=1, levels=5, lookahead=True)
