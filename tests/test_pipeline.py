import pytest
import torch

from mobilevid.errors import MobilevidError
from mobilevid.pipeline import Pipeline


def test_from_pretrained_generates_frames(tiny_model_dir):
    pipe = Pipeline.from_pretrained(tiny_model_dir)
    out = pipe(["a red circle moving right", "the digit 3 moving up"], seed=1)
    assert out.frames.shape == (2, 4, 3, 64, 64)
    assert 0 <= float(out.frames.min()) and float(out.frames.max()) <= 1
    assert out.model_evaluations == 2 * 2  # 2 steps, guided (two calls each)
    again = pipe(["a red circle moving right"], seed=1)
    assert torch.allclose(again.frames[0], out.frames[0], atol=1e-5)  # a prompt's video does not depend on the batch


def test_save_pretrained_roundtrip(tiny_model_dir, tmp_path):
    pipe = Pipeline.from_pretrained(tiny_model_dir)
    pipe.save_pretrained(tmp_path / "copy")
    again = Pipeline.from_pretrained(tmp_path / "copy")
    a = pipe("a blue square growing", num_inference_steps=1, guidance_scale=1.0).frames
    b = again("a blue square growing", num_inference_steps=1, guidance_scale=1.0).frames
    assert torch.equal(a, b)


def test_bad_inputs(tiny_model_dir, tmp_path):
    pipe = Pipeline.from_pretrained(tiny_model_dir)
    with pytest.raises(MobilevidError, match="empty prompt"):
        pipe("")
    with pytest.raises(MobilevidError, match="frames must be between 1 and 4"):
        pipe("a red circle", num_frames=0)
    with pytest.raises(MobilevidError, match="model folder not found"):
        Pipeline.from_pretrained(tmp_path / "missing")


def test_pipeline_is_importable_from_the_package_root():
    import mobilevid

    assert mobilevid.Pipeline is Pipeline  # the README's `mobilevid.Pipeline.from_pretrained(...)`
