import pytest

from mobilevid.models.presets import get_preset


@pytest.fixture
def tiny_config():
    """The tiny preset's denoiser with 4 frames (fast) and random (non-zero) weights where noted by tests."""
    cfg = get_preset("tiny").denoiser
    cfg.num_frames = 4
    return cfg

