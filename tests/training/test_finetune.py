"""Fine-tuning a trained model: added temporal layers (init_from + arch), a new, lighter VAE decoder, times."""

import copy
import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from mobilevid.cli.main import main
from mobilevid.errors import MobilevidError
from mobilevid.models.arch_spec import parse_arch
from mobilevid.models.video_unet import VideoUNet
from mobilevid.pipeline import Pipeline
from mobilevid.training.train import load_starting_weights


def _perturbed(model_dir, tmp_path):
    """The tiny model with every weight moved off its initial value (so temporal layers are not identity)."""
    pipe = Pipeline.from_pretrained(model_dir)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in pipe.denoiser.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=gen))
    out = tmp_path / "trained"
    pipe.save_pretrained(out)
    return out


def _text_time_arch(config) -> dict:
    """The config's arch with temporal cross-attention appended in slots 1 and 3."""
    return {"slots": {k: [*v, "temporal_cross_attention"] if k in ("1", "3") else list(v)
                      for k, v in config.arch["slots"].items()}}


def test_added_temporal_layers_start_as_identity(tiny_model_dir, tmp_path):
    trained = _perturbed(tiny_model_dir, tmp_path)
    base = VideoUNet.from_pretrained(trained / "denoiser").eval()
    cfg = VideoUNet.from_config_file(trained / "denoiser").config
    cfg.arch = _text_time_arch(cfg)
    cfg.frame_text_conditioning = True
    cfg.position_embedding = True
    grown = VideoUNet(cfg).eval()
    load_starting_weights(grown, trained / "denoiser" / "model.safetensors")
    x = torch.randn(1, 4, 4, 16, 16)
    t = torch.tensor([500.0])
    text = torch.randn(1, 5, cfg.cross_attention_dim)
    with torch.no_grad():
        assert torch.allclose(base(x, t, text), grown(x, t, text), atol=1e-5)
    assert len(grown.temporal["1"]) == len(base.temporal["1"]) + 1
    assert grown.frame_text_embedding is not None and base.frame_text_embedding is None
    assert grown.position_embedding is not None and base.position_embedding is None


def test_starting_weights_must_fit(tiny_model_dir, tmp_path):
    cfg = VideoUNet.from_config_file(tiny_model_dir / "denoiser").config
    cfg.block_out_channels = (16, 64, 96)  # a different backbone: shapes do not fit
    with pytest.raises(MobilevidError, match="has shape"):
        load_starting_weights(VideoUNet(cfg), tiny_model_dir / "denoiser" / "model.safetensors")
    src = VideoUNet.from_config_file(tiny_model_dir / "denoiser")
    cfg = copy.deepcopy(src.config)
    cfg.cross_attention_dim = cfg.cross_attention_dim + 8  # not a temporal layer: still an error
    with pytest.raises(MobilevidError, match="has shape|unexpected tensor"):
        load_starting_weights(VideoUNet(cfg), tiny_model_dir / "denoiser" / "model.safetensors")
    # A file may lack only tensors of modules that start as identity, not the backbone's.
    tensors = load_file(tiny_model_dir / "denoiser" / "model.safetensors")
    del tensors["conv_in.weight"]
    save_file(tensors, tmp_path / "partial.safetensors")
    cfg = VideoUNet.from_config_file(tiny_model_dir / "denoiser").config
    with pytest.raises(MobilevidError, match="missing tensor 'conv_in.weight'.*only temporal"):
        load_starting_weights(VideoUNet(cfg), tmp_path / "partial.safetensors")


def test_a_searched_arch_keeps_the_layers_it_shares_with_the_trained_model(tiny_model_dir, tmp_path):
    # A searched arch may drop layers and so shift the others' positions in a slot: each kept layer
    # starts from the trained one of its candidate, the dropped ones are left out.
    trained = _perturbed(tiny_model_dir, tmp_path)
    src = VideoUNet.from_pretrained(trained / "denoiser")
    slots = parse_arch(src.config.arch, src.config)
    slot = next(i for i, names in slots.items() if len(names) >= 2)
    kept = slots[slot][1]
    cfg = copy.deepcopy(src.config)
    cfg.arch = {"slots": {str(slot): [kept]}}  # every other slot empty, the second layer first
    searched = VideoUNet(cfg)
    load_starting_weights(searched, trained / "denoiser" / "model.safetensors")
    for (name, got), want in zip(searched.temporal[str(slot)][0].state_dict().items(),
                                 src.temporal[str(slot)][1].state_dict().values(), strict=True):
        assert torch.equal(got, want), name
    assert torch.equal(searched.conv_in.weight, src.conv_in.weight)


def test_finetune_with_added_layers_end_to_end(tiny_model_dir, tmp_path):
    trained = _perturbed(tiny_model_dir, tmp_path)
    cfg = VideoUNet.from_config_file(trained / "denoiser").config
    arch_file = tmp_path / "arch.json"
    arch_file.write_text(json.dumps(_text_time_arch(cfg)))
    out = tmp_path / "ft"
    assert main(["train", "--output", str(out), "--data", "shapes", "--stage", "denoiser", "--max-steps", "2",
                 "--set", f"init_from={trained}", "--set", f"arch={arch_file}", "--set", "frame_text_conditioning=true",
                 "--set", "denoiser.batch_size=1",
                 "--set", "denoiser.warmup_steps=1"]) == 0
    pipe = Pipeline.from_pretrained(out / "model")
    assert pipe.denoiser.config.arch["slots"]["1"][-1] == "temporal_cross_attention"
    assert pipe.denoiser.config.frame_text_conditioning
    assert pipe.config.num_frames == 4  # the starting model's config, not the preset's 16 frames
    before = load_file(str(trained / "denoiser" / "model.safetensors"))
    after = load_file(str(out / "model" / "denoiser" / "model.safetensors"))
    assert set(after) > set(before)
    assert any(not torch.equal(before[k], after[k]) for k in before)  # it trained
    vae_before = load_file(str(trained / "vae" / "model.safetensors"))
    vae_after = load_file(str(out / "model" / "vae" / "model.safetensors"))
    assert all(torch.equal(vae_before[k], vae_after[k]) for k in vae_before)  # the model's own VAE


def test_light_decoder_keeps_encoder_and_denoiser(tiny_model_dir, tmp_path):
    out = tmp_path / "light"
    assert main(["train", "--output", str(out), "--data", "shapes", "--stage", "vae_decoder", "--max-steps", "2",
                 "--set", f"init_from={tiny_model_dir}", "--set", "vae_decoder.block_out_channels=[16,16,32]",
                 "--set", "vae_decoder.batch_size=2"]) == 0
    pipe = Pipeline.from_pretrained(out / "model")
    assert pipe.vae.config.decoder_block_out_channels == (16, 16, 32)
    assert pipe.vae.vae.decoder.conv_out.in_channels == 16
    old_vae = load_file(str(tiny_model_dir / "vae" / "model.safetensors"))
    new_vae = load_file(str(out / "model" / "vae" / "model.safetensors"))
    encoder = [k for k in old_vae if k.startswith("vae.encoder.")]
    assert encoder and all(torch.equal(old_vae[k], new_vae[k]) for k in encoder)
    old_den = load_file(str(tiny_model_dir / "denoiser" / "model.safetensors"))
    new_den = load_file(str(out / "model" / "denoiser" / "model.safetensors"))
    assert all(torch.equal(old_den[k], new_den[k]) for k in old_den)
    video = pipe("a red circle moving right", num_inference_steps=1).frames
    assert video.shape == (1, 4, 3, 64, 64) and torch.isfinite(video).all()


def test_bad_finetune_settings_are_one_line_errors(tiny_model_dir, tmp_path, capsys):
    assert main(["train", "--output", str(tmp_path / "a"), "--stage", "vae",
                 "--set", f"init_from={tiny_model_dir}"]) != 0
    assert "init_from starts from a trained model" in capsys.readouterr().err
    assert main(["train", "--output", str(tmp_path / "b"), "--set", f"init_from={tmp_path / 'missing'}"]) != 0
    assert "model folder not found" in capsys.readouterr().err
    assert main(["train", "--output", str(tmp_path / "c"), "--set", 'arch={"slots": {"1": ["warp_drive"]}}']) != 0
    assert "unknown candidate 'warp_drive'" in capsys.readouterr().err
    assert main(["train", "--output", str(tmp_path / "d"), "--stage", "vae_decoder",
                 "--set", f"init_from={tiny_model_dir}", "--set", "vae_decoder.block_out_channels=[16,32]"]) != 0
    assert "needs 3 levels" in capsys.readouterr().err


def test_terminal_time_share_trains_at_pure_noise():
    from mobilevid.training.train import training_times
    from mobilevid.training.train_config import DenoiserStageConfig

    plain = training_times(4096, DenoiserStageConfig(time_mean=1.5), seed=0, step=3, rank=0)
    mixed = training_times(4096, DenoiserStageConfig(time_mean=1.5, terminal_time_prob=0.3), seed=0, step=3, rank=0)
    assert not (plain == 1.0).any()  # a logit-normal never reaches t = 1
    terminal = mixed == 1.0
    assert 0.25 < terminal.float().mean() < 0.35
    assert torch.equal(mixed[~terminal], plain[~terminal])  # the rest are the same draws
    again = training_times(4096, DenoiserStageConfig(time_mean=1.5, terminal_time_prob=0.3), seed=0, step=3, rank=0)
    assert torch.equal(mixed, again)  # seeded per step: resume stays exact


def test_lr_scales_put_a_module_in_its_own_group():
    from mobilevid.training.loop import _param_groups

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    model[1].bias.requires_grad_(False)
    groups = _param_groups(model, {"1.": 10.0})
    assert [(g["lr_scale"], len(g["params"])) for g in groups] == [(1.0, 2), (10.0, 1)]
    assert _param_groups(model, {})[0]["lr_scale"] == 1.0 and len(_param_groups(model, {})) == 1
