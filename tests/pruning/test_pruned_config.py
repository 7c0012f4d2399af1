"""The pruned config: widths in whole norm groups, whole heads, and one-line errors for ratios that break it."""

import pytest

from mobilevid.errors import MobilevidError
from mobilevid.models.presets import get_preset
from mobilevid.models.vae import VideoVAE
from mobilevid.models.video_unet import VideoUNet
from mobilevid.pruning.pruned_config import pruned_denoiser_config, pruned_vae_config


def test_denoiser_widths_go_in_whole_groups_and_heads_stay_whole():
    cfg = get_preset("tiny").denoiser  # (32, 64, 96), 16 groups, heads (1, 2, 3) of 32
    new = pruned_denoiser_config(cfg, 0.5)
    assert new.block_out_channels == (16, 32, 48) and new.norm_num_groups == 8
    assert new.attention_heads == (1, 1, 2) and new.attention_head_dim == (32, 32, 32)
    assert new.time_proj_dim == 32  # the timestep code keeps its width
    VideoUNet(new)  # the config builds


def test_vae_decoder_narrows_and_the_encoder_stays():
    cfg = get_preset("tiny").vae
    new = pruned_vae_config(cfg, 0.75)
    assert new.decoder_block_out_channels == (8, 16, 16) and new.decoder_norm_num_groups == 4
    vae = VideoVAE(new)
    assert vae.vae.encoder.conv_in.out_channels == 32 and vae.vae.decoder.conv_in.out_channels == 16


@pytest.mark.parametrize("ratio, message", [
    (0.0, "must be in (0, 1)"), (1.0, "must be in (0, 1)"), (-0.2, "must be in (0, 1)"),
    (0.98, "leaves no GroupNorm group"), (0.01, "removes no GroupNorm group"),
])
def test_a_ratio_that_breaks_the_model_is_a_one_line_error(ratio, message):
    for build in (lambda: pruned_denoiser_config(get_preset("tiny").denoiser, ratio),
                  lambda: pruned_vae_config(get_preset("tiny").vae, ratio)):
        with pytest.raises(MobilevidError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
            build()
        assert "\n" not in str(err.value)


def test_old_configs_still_load_with_the_new_fields_unset():
    cfg = get_preset("tiny").denoiser
    assert cfg.attention_head_dim is None and cfg.time_proj_dim is None
    assert cfg.head_dim(2) == 32 and cfg.time_code_dim == 32
