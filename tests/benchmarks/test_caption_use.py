"""The caption-use probe on the built-in teacher (the real trained model, a few clips)."""

import math

import pytest
from caption_use import caption_use

from mobilevid.errors import MobilevidError
from mobilevid.pipeline import Pipeline


@pytest.fixture(scope="module")
def teacher():
    return Pipeline.from_pretrained("teacher")


def test_teacher_uses_the_colour_word(teacher):
    out = caption_use(teacher, "shapes", clips=4, times=(0.8,))
    gains = out["t=0.8"]
    assert set(gains) == {"direction", "colour", "shape", "true_loss"}
    assert all(math.isfinite(v) for v in gains.values())
    assert gains["colour"] > 0.02  # swapping red for blue costs the trained teacher loss


def test_a_model_that_ignores_the_caption_has_zero_gain(teacher, monkeypatch):
    real = teacher.encode_prompts
    monkeypatch.setattr(teacher, "encode_prompts", lambda captions: real(["a red circle"] * len(captions)))
    gains = caption_use(teacher, "digits", clips=2, times=(0.9,))["t=0.9"]
    assert gains["digit"] == 0.0 and gains["direction"] == 0.0


def test_unknown_suite_is_an_error(teacher):
    with pytest.raises(MobilevidError, match="supports suites"):
        caption_use(teacher, "photos")
