"""The layout stage: it fits the text-to-layout map, and the denoiser stage starts from the fitted map."""

import json
import logging

import torch
from safetensors.torch import load_file

from mobilevid.cli.main import main
from mobilevid.models.presets import get_preset
from mobilevid.models.vae import VideoVAE
from mobilevid.training.layout_stage import LayoutRegressor, pooled_latents

BASE = ["train", "--preset", "tiny", "--data", "shapes", "--set", "num_frames=4", "--set", "log_every=1",
        "--set", "frame_layout_conditioning=true", "--set", "layout.clips=24", "--set", "layout.batch_size=8",
        "--set", "denoiser.batch_size=1"]


def test_pooled_latents_and_the_regressor_have_the_map_shape():
    cfg = get_preset("tiny")
    vae = VideoVAE(cfg.vae).eval()
    with torch.no_grad():
        target = pooled_latents(vae, torch.zeros(2, 3, 3, 64, 64), 8)
    assert target.shape == (2, 3, cfg.vae.latent_channels, 8, 8)
    d = cfg.denoiser
    model = LayoutRegressor(d.cross_attention_dim, d.block_out_channels[0], 8, d.in_channels)
    pred = model(torch.randn(2, 5, d.cross_attention_dim), torch.ones(2, 5), 3)
    assert pred.shape == target.shape
    assert not model.layout.proj.weight.requires_grad and float(model.layout.proj.weight.abs().sum()) == 0


def test_layout_stage_lowers_the_loss_and_the_denoiser_starts_from_its_map(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="mobilevid.train")
    out = tmp_path / "run"
    assert main([*BASE, "--output", str(out), "--stage", "layout", "--max-steps", "30",
                 "--set", "layout.lr=3e-3"]) == 0
    fitted = load_file(str(out / "stages" / "layout" / "layout.safetensors"))
    assert float(fitted["proj.weight"].abs().sum()) == 0  # the denoiser stage trains the output conv
    fit = json.loads((out / "stages" / "layout" / "layout.json").read_text())
    assert fit["mse_end"] < 0.7 * fit["mse_start"]
    # A second call with --resume finds the finished stage and leaves it alone.
    assert main([*BASE, "--output", str(out), "--stage", "layout", "--max-steps", "30", "--resume"]) == 0
    assert "layout stage already finished" in caplog.text
    assert main([*BASE, "--output", str(out), "--stage", "denoiser", "--max-steps", "1", "--resume"]) == 0
    model = load_file(str(out / "model" / "denoiser" / "model.safetensors"))
    for name, tensor in fitted.items():
        if not name.startswith("proj."):  # one warm-up step of AdamW moves a weight by < lr
            assert (model[f"frame_layout_embedding.{name}"] - tensor).abs().max() < 1e-4, name


def test_layout_stage_needs_a_model_with_the_layout_map(tmp_path, capsys):
    args = [*BASE, "--set", "frame_layout_conditioning=false"]  # the later --set wins
    assert main([*args, "--output", str(tmp_path / "run"), "--stage", "layout", "--max-steps", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("mobilevid train: error:") and "frame_layout_conditioning=true" in err[-1]
