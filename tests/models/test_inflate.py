import json

import pytest
import torch
from diffusers import UNet2DConditionModel

from mobilevid.cli.main import main
from mobilevid.errors import MobilevidError
from mobilevid.models.inflate import inflate_image_unet
from mobilevid.models.video_unet import VideoUNet

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


def test_freeze_backbone_leaves_only_temporal_trainable(tmp_path):
    _, path = _saved_unet(tmp_path, CONFIGS["two-level-conv-proj"])
    video = inflate_image_unet(path, arch={"slots": {"0": ["temporal_conv"]}}, freeze_backbone=True)
    trainable = {n.split(".")[0] for n, p in video.named_parameters() if p.requires_grad}
    assert trainable == {"temporal"}


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


def test_inflate_cli_writes_a_loadable_folder(tmp_path, capsys):
    _, path = _saved_unet(tmp_path, CONFIGS["two-level-conv-proj"])
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({"slots": {"1": ["directed_temporal_attention"]}}))
    assert main(["inflate", "--image-unet", str(path), "--arch", str(arch), "--frames", "8",
                 "--output", str(tmp_path / "out")]) == 0
    model = VideoUNet.from_pretrained(tmp_path / "out")
    assert model.config.num_frames == 8 and list(model.temporal) == ["1"]
    assert main(["inflate", "--image-unet", str(tmp_path / "nope"), "--output", str(tmp_path / "o2")]) == 1
    assert "image UNet folder not found" in capsys.readouterr().err
