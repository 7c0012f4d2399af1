import logging

import pytest

from mobilevid.errors import MobilevidError
from mobilevid.models.text_encoder import TextEncoder


@pytest.fixture(scope="module")
def encoder():
    return TextEncoder(max_length=16)


def test_encodes_fixed_length(encoder):
    states, pooled, mask = encoder.encode(["a red circle moving right", "the digit 7 moving up"])
    assert states.shape == (2, 16, 384) and pooled.shape == (2, 384) and mask.shape == (2, 16)
    assert not any(p.requires_grad for p in encoder.parameters())
    # a real pretrained encoder: related captions are closer than unrelated ones
    a, b, c = encoder.encode(["a red circle moving right", "a red circle moving left", "zoom into the cat"])[1]
    cos = lambda u, v: float((u @ v) / (u.norm() * v.norm()))  # noqa: E731
    assert cos(a, b) > cos(a, c)


def test_empty_prompt_is_an_error(encoder):
    with pytest.raises(MobilevidError, match="empty prompt"):
        encoder.encode(["  "])


def test_long_prompt_is_truncated_with_warning(encoder, caplog):
    with caplog.at_level(logging.WARNING, logger="mobilevid.text"):
        states, _, mask = encoder.encode(["word " * 50])
    assert states.shape[1] == 16 and int(mask.sum()) == 16
    assert "truncated" in caplog.text


def test_missing_local_encoder_folder(tmp_path):
    with pytest.raises(MobilevidError, match="text encoder folder not found"):
        TextEncoder(str(tmp_path / "nope"))
