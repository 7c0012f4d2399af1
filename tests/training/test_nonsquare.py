"""Non-square models: a 48x64 tiny model trains and samples; mobile-0.6b's 288x512 batch path builds."""

import json

import pytest

from mobilevid.cli.main import main
from mobilevid.errors import MobilevidError
from mobilevid.pipeline import Pipeline
from mobilevid.training.batches import StepBatches, training_data
from mobilevid.training.train import _model_config
from mobilevid.training.train_config import TrainConfig


def test_a_non_square_tiny_model_trains_and_samples(tmp_path, capsys):
    out = tmp_path / "wide"
    code = main(["train", "--output", str(out), "--preset", "tiny", "--data", "shapes+digits+photos",
                 "--max-steps", "2", "--set", "height=48", "--set", "width=64", "--set", "num_frames=4",
                 "--set", "stages=[vae,denoiser]", "--set", "vae.batch_size=3", "--set", "denoiser.batch_size=3",
                 "--set", "denoiser.image_ratio=0"])
    assert code == 0, capsys.readouterr().err[-2000:]
    index = json.loads((out / "model" / "model_index.json").read_text())
    assert (index["height"], index["width"]) == (48, 64)
    pipe = Pipeline.from_pretrained(out / "model")
    assert (pipe.denoiser.config.latent_height, pipe.denoiser.config.latent_width) == (12, 16)
    result = pipe("a red circle moving right", num_inference_steps=1)
    assert result.frames.shape == (1, 4, 3, 48, 64)


def test_frame_size_overrides_are_checked_before_any_work(tmp_path, capsys):
    for size, message in (("height=50", "multiples of the VAE's downsampling factor 4"),
                          ("width=40", "divisible by 4 for 3 levels")):
        out = tmp_path / "never"
        assert main(["train", "--output", str(out), "--set", size, "--max-steps", "1"]) == 1
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and not out.exists()


def test_mobile_preset_builds_its_288x512_training_batches():
    model_cfg = _model_config(TrainConfig(preset="mobile-0.6b", num_frames=2))
    assert (model_cfg.height, model_cfg.width) == (288, 512)
    assert (model_cfg.denoiser.latent_height, model_cfg.denoiser.latent_width) == (36, 64)
    batch = StepBatches(training_data("shapes+photos", model_cfg, seed=0), batch_size=2, seed=0)(0)
    assert batch["video"].shape == (2, 2, 3, 288, 512)
    with pytest.raises(MobilevidError, match="data_crop"):
        training_data("shapes", model_cfg, seed=0, crop="stretch")
