import json

import pytest
import torch
from diffusers import UNet2DConditionModel

from mobilevid.cli.main import main
from mobilevid.errors import MobilevidError
from mobilevid.models.inflate import INFLATED_RECORD, inflate_image_unet, map_diffusers_state_dict
from mobilevid.models.video_unet import VideoUNet
from mobilevid.pipeline import Pipeline

CONFIGS = {
    "two-level-conv-proj": dict(
        block_out_channels=(32, 64), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=2, cross_attention_dim=48,
        layers_per_block=1, norm_num_groups=8, sample_size=16,
    ),
    "three-level-linear-proj": dict(
        block_out_channels=(32, 64, 64), down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"), attention_head_dim=(2, 4, 4),
        cross_attention_dim=40, layers_per_block=2, norm_num_groups=16, use_linear_projection=True,
        transformer_layers_per_block=2, sample_size=16,
    ),
}


def _saved_unet(tmp_path, kw, seed=0):
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**kw)
    with torch.no_grad():
        for p in unet.parameters():
            p.normal_(0, 0.05)
    unet.save_pretrained(tmp_path / "unet")
    return unet.eval(), tmp_path / "unet"


@pytest.mark.parametrize("name", list(CONFIGS))
def test_inflated_model_matches_diffusers_per_frame(tmp_path, name):
    kw = CONFIGS[name]
    unet, path = _saved_unet(tmp_path, kw)
    arch = {"slots": {"0": ["temporal_conv", "temporal_attention"], "1": ["frame_adaptor"]}}
    video = VideoUNet.from_image_unet(path, arch=arch, num_frames=4).eval()
    b, f = 2, 4
    x = torch.randn(b, f, 4, 16, 16)
    t = torch.tensor([10.0, 700.0])
    text = torch.randn(b, 7, kw["cross_attention_dim"])
    mask = torch.tensor([[1.0] * 5 + [0.0] * 2, [1.0] * 7])
    with torch.no_grad():
        ours = video(x, t, text, encoder_attention_mask=mask).reshape(b * f, 4, 16, 16)
        ref = unet(
            x.reshape(b * f, 4, 16, 16), t.repeat_interleave(f), text.repeat_interleave(f, 0),
            encoder_attention_mask=mask.repeat_interleave(f, 0),
        ).sample
    assert (ours - ref).abs().max() < 1e-4


def test_freeze_backbone_leaves_only_the_new_modules_trainable(tmp_path):
    _, path = _saved_unet(tmp_path, CONFIGS["two-level-conv-proj"])
    video = inflate_image_unet(path, arch={"slots": {"0": ["temporal_conv"]}}, freeze_backbone=True)
    assert video.config.freeze_backbone  # recorded, so training reads it
    trainable = {n.split(".")[0] for n, p in video.named_parameters() if p.requires_grad}
    assert trainable == {"temporal", "text_embedding", "fps_embedding", "visual_condition"}
    assert all(VideoUNet.new_after_inflation(n) == p.requires_grad for n, p in video.named_parameters())


def test_new_after_inflation_is_what_the_image_unet_lacks(tmp_path):
    """The one list: exactly the VideoUNet tensors that no diffusers UNet2DConditionModel tensor maps to."""
    unet, _ = _saved_unet(tmp_path, CONFIGS["three-level-linear-proj"])
    config = VideoUNet.from_image_unet(tmp_path / "unet", num_frames=4).config
    config.arch = {"slots": {"0": ["temporal_conv", "temporal_attention"], "3": ["temporal_cross_attention"]}}
    config.frame_text_conditioning = config.position_embedding = config.frame_layout_conditioning = True
    config.frame_layout_grid = 4
    own = VideoUNet(config).state_dict()
    mapped = set(map_diffusers_state_dict(unet.state_dict()))
    assert {k for k in own if k not in mapped} == {k for k in own if VideoUNet.new_after_inflation(k)}


def test_unsupported_config_says_what_does_not_map(tmp_path):
    kw = dict(CONFIGS["two-level-conv-proj"], class_embed_type="timestep")
    _, path = _saved_unet(tmp_path, kw)
    with pytest.raises(MobilevidError, match="class_embed_type='timestep' does not map"):
        inflate_image_unet(path)
    cfg = json.loads((path / "config.json").read_text())
    cfg["class_embed_type"] = None
    cfg["down_block_types"] = ["SimpleCrossAttnDownBlock2D", "CrossAttnDownBlock2D"]
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(MobilevidError, match="unsupported down block 'SimpleCrossAttnDownBlock2D'"):
        inflate_image_unet(path)


# cross_attention_dim 384: the built-in text encoder's hidden size, so the folder pairs with it.
TEXT_READY = dict(CONFIGS["two-level-conv-proj"], cross_attention_dim=384)


def test_inflate_cli_writes_a_model_folder(tmp_path, capsys):
    _, path = _saved_unet(tmp_path, TEXT_READY)
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({"slots": {"1": ["directed_temporal_attention"]}}))
    assert main(["inflate", "--image-unet", str(path), "--arch", str(arch), "--frames", "8",
                 "--output", str(tmp_path / "out")]) == 0
    pipe = Pipeline.from_pretrained(tmp_path / "out")
    assert pipe.config.num_frames == 8 and list(pipe.denoiser.temporal) == ["1"]
    assert (pipe.config.height, pipe.config.width) == (64, 64)  # 16 latents x the tiny VAE's 4x
    assert json.loads((tmp_path / "out" / INFLATED_RECORD).read_text())["vae"] is None  # a fresh VAE
    # ... so training from it trains the VAE first, then the denoiser from the inflated weights.
    assert main(["train", "--set", f"init_from={tmp_path / 'out'}", "--output", str(tmp_path / "run"), "--data",
                 "shapes", "--max-steps", "1", "--set", "vae.batch_size=2", "--set", "vae_decoder.batch_size=1",
                 "--set", "denoiser.batch_size=1"]) == 0
    assert json.loads((tmp_path / "run" / "run.json").read_text())["config"]["stages"] == ["vae", "vae_decoder",
                                                                                           "denoiser"]
    assert Pipeline.from_pretrained(tmp_path / "run" / "model").vae.config.scaling_factor != 1.0  # trained
    assert main(["inflate", "--image-unet", str(path), "--output", str(tmp_path / "out")]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["inflate", "--image-unet", str(tmp_path / "nope"), "--output", str(tmp_path / "o2")]) == 1
    assert "image UNet folder not found" in capsys.readouterr().err
    _, other = _saved_unet(tmp_path / "b", CONFIGS["two-level-conv-proj"])  # cross_attention_dim 48
    assert main(["inflate", "--image-unet", str(other), "--output", str(tmp_path / "o3")]) == 1
    assert "cross_attention_dim 48 does not match the text encoder" in capsys.readouterr().err
    assert not (tmp_path / "o3").exists()


def test_training_from_an_inflated_model_keeps_the_frozen_backbone(tmp_path, tiny_model_dir):
    _, path = _saved_unet(tmp_path, TEXT_READY)
    model = tmp_path / "inflated"
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({"slots": {"0": ["temporal_conv"]}}))
    assert main(["inflate", "--image-unet", str(path), "--arch", str(arch),
                 "--frames", "4", "--freeze-backbone", "--vae", str(tiny_model_dir), "--output", str(model)]) == 0
    run = tmp_path / "run"
    assert main(["train", "--set", f"init_from={model}", "--output", str(run), "--data", "shapes", "--max-steps", "2",
                 "--set", "denoiser.batch_size=1", "--set", "denoiser.warmup_steps=0",
                 "--set", "denoiser.ema_decay=0", "--set", "denoiser.image_ratio=0"]) == 0
    before = Pipeline.from_pretrained(model).denoiser.state_dict()
    after = Pipeline.from_pretrained(run / "model").denoiser.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(VideoUNet.new_after_inflation(k) for k in changed)  # only new modules moved
    assert any(k.startswith("temporal.") for k in changed)
    assert json.loads((run / "run.json").read_text())["config"]["stages"] == ["denoiser"]  # its VAE is kept
