import torch
from exact_denoiser import ExactDenoiser, frame_prompt, known_clip

from mobilevid.longvideo.autoregressive import autoregressive_sample, window_starts
from mobilevid.sampling import EULER

SIGMAS = torch.tensor([1.0, 0.6, 0.3, 0.0])


def test_windows_cover_the_video():
    assert window_starts(16, 16, 4) == [0]
    assert window_starts(17, 16, 4) == [0, 12]
    assert window_starts(40, 16, 4) == [0, 12, 24]


def test_each_window_is_conditioned_on_the_last_frames_of_the_previous_one():
    clip = known_clip(21)
    denoise = ExactDenoiser(clip)
    emitted = []
    stats = autoregressive_sample(denoise, SIGMAS, EULER, 6, 2, 21, frame_prompt, [torch.Generator().manual_seed(0)],
                                  clip.shape[1:], lambda s, lat: emitted.append((s, lat)))
    assert [s for s, _ in emitted] == [0, 6, 10, 14, 18]
    video = torch.cat([lat for _, lat in emitted], dim=1)[0]
    torch.testing.assert_close(video, clip, atol=1e-5, rtol=1e-5)
    steps = len(SIGMAS) - 1
    assert stats.rounds == stats.windows * steps == len(denoise.calls)
    for w, start in enumerate(window_starts(21, 6, 2)[1:], start=1):
        call = denoise.calls[w * steps]
        assert call["cond_mask"][0].tolist() == [1, 1, 0, 0, 0, 0]
        torch.testing.assert_close(call["cond"][0, :2], clip[start:start + 2], atol=1e-5, rtol=1e-5)
