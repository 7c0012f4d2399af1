import pytest
import torch
from exact_denoiser import ExactDenoiser, frame_prompt, known_clip

from mobilevid.errors import MobilevidError
from mobilevid.longvideo.nuwa import nuwa_sample, plan
from mobilevid.sampling import EULER, RENOISE

SIGMAS = torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0])


def test_paper_geometry_16_226_3376():
    for frames, depth in ((16, 1), (226, 2), (3376, 3)):
        p = plan(frames, 16)
        assert (p.keyframes, p.depth, p.span) == (16, depth, frames)
    p = plan(3376, 16)
    assert [level.stride for level in p.levels] == [225, 15, 1]
    assert [len(level.calls) for level in p.levels] == [1, 15, 225]
    assert p.levels[0].calls[0] == tuple(range(0, 3376, 225))
    # Local call k of level 2 fills the span between keyframes k and k + 1 at stride 15.
    assert p.levels[1].calls[3] == tuple(675 + 15 * j for j in range(16))
    assert p.levels[2].calls[-1] == tuple(range(3360, 3376))


def test_other_lengths_choose_l_and_cut_the_last_level():
    p = plan(1024, 16)
    assert (p.keyframes, p.depth) == (12, 3)  # 11 ** 3 + 1 = 1332 >= 1024 > 10 ** 3 + 1
    last = p.levels[-1]
    assert all(call[1] < 1024 for call in last.calls)  # every call makes a frame inside the video
    covered = {f for level in p.levels for call in level.calls for f in call}
    assert set(range(1024)) <= covered
    assert plan(10, 16).depth == 1 and plan(10, 16).levels[0].calls == (tuple(range(10)),)
    with pytest.raises(MobilevidError, match="keyframes"):
        plan(100, 16, keyframes=17)


@pytest.mark.parametrize("kind", [EULER, RENOISE])
def test_nuwa_returns_the_known_clip_one_batch_per_level(kind):
    clip = known_clip(30)
    denoise = ExactDenoiser(clip)
    p = plan(30, 5)  # L = 5, depth 3: 65 frames cut to 30
    assert (p.keyframes, p.depth) == (5, 3)
    video, stats = nuwa_sample(denoise, SIGMAS, kind, p, frame_prompt, [0], clip.shape[1:], fps=8.0)
    torch.testing.assert_close(video[0], clip, atol=1e-5, rtol=1e-5)
    steps = len(SIGMAS) - 1
    # One batched call per step and level: the critical path is depth x steps.
    assert len(denoise.calls) == p.depth * steps == stats.rounds
    for d, level in enumerate(p.levels):
        calls = denoise.calls[d * steps:(d + 1) * steps]
        assert all(c["batch"] == len(level.calls) for c in calls)
        c = calls[0]
        # fps carries the level's stride; frames are the level's; global level has no known frames.
        assert torch.all(c["fps"] == 8.0 / level.stride)
        assert [[int(s.split()[1]) for s in row] for row in c["prompts"]] == [list(call) for call in level.calls]
        if d == 0:
            assert c["cond"] is None
        else:
            assert c["cond_mask"][:, 0].eq(1).all() and c["cond_mask"][:, -1].eq(1).all()
            assert c["cond_mask"][:, 1:-1].eq(0).all()
            for row, call in enumerate(level.calls):  # the known frames are the ones made a level up
                first, last = call[0], min(call[-1], 64)
                torch.testing.assert_close(c["cond"][row, 0], denoise.clip[min(first, 29)], atol=1e-5, rtol=1e-5)
                if last < 30:
                    torch.testing.assert_close(c["cond"][row, -1], denoise.clip[last], atol=1e-5, rtol=1e-5)


def test_batching_does_not_change_the_video():
    clip = known_clip(30)

    class Noisy(ExactDenoiser):  # an inexact denoiser, so the noise shows in the result
        def __call__(self, x, sigma, prompts, cond=None, cond_mask=None, fps=None):
            return 0.9 * super().__call__(x, sigma, prompts, cond, cond_mask, fps)

    p = plan(30, 5)
    one, _ = nuwa_sample(Noisy(clip), SIGMAS, RENOISE, p, frame_prompt, [3], clip.shape[1:], fps=8.0)
    split, _ = nuwa_sample(Noisy(clip), SIGMAS, RENOISE, p, frame_prompt, [3], clip.shape[1:], fps=8.0, max_batch=2)
    torch.testing.assert_close(one, split)


def test_a_model_trained_at_the_strides_of_L_16_gets_L_16():
    from mobilevid.longvideo.run import nuwa_keyframes
    from mobilevid.models.presets import ModelConfig, TrainedFor

    strided = ModelConfig(trained_for=TrainedFor(visual_condition=True, frame_strides=[1, 15, 225]))
    assert nuwa_keyframes(strided, 1024, None) == 16
    assert [level.stride for level in plan(1024, 16, nuwa_keyframes(strided, 1024, None)).levels] == [225, 15, 1]
    assert nuwa_keyframes(strided, 1024, 9) == 9  # the user's L wins
    assert nuwa_keyframes(strided, 12, None) is None  # one window: no recursion
    assert nuwa_keyframes(ModelConfig(), 1024, None) is None  # stride 1 only: the smallest L that covers it
