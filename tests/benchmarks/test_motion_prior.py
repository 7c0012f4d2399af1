"""The motion-prior probe: real clips drift half the frame in the caption's direction; a model gives one drift per word."""

import math

from motion_prior import DIRECTIONS, data_motion_prior, model_motion_prior

from mobilevid.pipeline import Pipeline


def test_real_clips_move_half_the_frame_in_the_captions_direction():
    drift = data_motion_prior(num_frames=8, size=32, clips=4)
    want = {"left": (-16, 0), "right": (16, 0), "up": (0, -16), "down": (0, 16)}
    for d in DIRECTIONS:
        assert all(abs(got - exp) < 1.0 for got, exp in zip(drift[d], want[d], strict=True)), (d, drift[d])


def test_model_probe_runs_on_a_model(tiny_model_dir):
    drift = model_motion_prior(Pipeline.from_pretrained(tiny_model_dir), seeds=2)
    assert set(drift) == set(DIRECTIONS)
    assert all(math.isfinite(v) for xy in drift.values() for v in xy)
