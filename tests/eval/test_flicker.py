import numpy as np
import pytest
import torch

from mobilevid.eval import mean_temporal_flickering, temporal_flickering
from mobilevid.eval.flicker import mean_abs_frame_difference


def test_static_clip_scores_one():
    assert temporal_flickering(torch.zeros(5, 3, 8, 8)) == 1.0


def test_matches_vbench_formula_on_uint8_frames():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(6, 16, 16, 3)).astype(np.uint8)
    # VBench: per consecutive pair, mean |a - b| over all pixels and channels, then (255 - mean) / 255.
    maes = [np.abs(frames[i].astype(np.float32) - frames[i + 1]).mean() for i in range(5)]
    expected = (255.0 - np.mean(maes)) / 255.0
    video = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    assert temporal_flickering(video) == pytest.approx(expected, abs=1e-6)


def test_alternating_frames():
    video = torch.stack([torch.full((3, 4, 4), -1.0), torch.full((3, 4, 4), 1.0)] * 2)
    assert mean_abs_frame_difference(video) == pytest.approx(255.0)
    assert temporal_flickering(video) == pytest.approx(0.0)
    assert mean_temporal_flickering([video, torch.zeros(3, 3, 4, 4)]) == pytest.approx(0.5)


def test_needs_two_frames():
    with pytest.raises(ValueError):
        temporal_flickering(torch.zeros(1, 3, 4, 4))
