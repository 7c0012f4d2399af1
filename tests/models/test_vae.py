import torch

from mobilevid.models.vae import VAEConfig, VideoVAE


def test_video_decoder_starts_equal_to_image_decoder():
    torch.manual_seed(0)
    vae = VideoVAE(VAEConfig()).eval()
    x = torch.rand(2, 3, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        z = vae.encode(x)
        assert z.shape == (2, 3, 4, 16, 16)
        video = vae.decode(z)
        image = vae.vae.decode(z.reshape(6, 4, 16, 16)).sample.reshape(2, 3, 3, 64, 64)
    assert (video - image).abs().max() < 1e-5


def test_temporal_convs_mix_frames_once_trained():
    vae = VideoVAE(VAEConfig()).eval()
    with torch.no_grad():
        for layer in vae.temporal:
            layer.conv.weight.add_(0.01 * torch.randn_like(layer.conv.weight))
        z = torch.randn(1, 6, 4, 16, 16)
        z2 = z.clone()
        z2[:, 5] += 1.0
        a, b = vae.decode(z), vae.decode(z2)
    assert (a[:, 4] - b[:, 4]).abs().max() > 0  # frame 4 sees its neighbour frame 5
    # 4 stacked kernel-3 convs reach 4 frames away, so frame 0 does not see frame 5
    assert (a[:, 0] - b[:, 0]).abs().max() < 1e-6


def test_save_load(tmp_path):
    vae = VideoVAE(VAEConfig(scaling_factor=0.5))
    vae.save_pretrained(tmp_path / "vae")
    loaded = VideoVAE.from_pretrained(tmp_path / "vae")
    assert loaded.config.scaling_factor == 0.5
    assert all(torch.equal(a, b) for a, b in zip(vae.state_dict().values(), loaded.state_dict().values(), strict=True))


def test_lighter_decoder_decodes_the_same_latents_with_fewer_channels():
    full = VideoVAE(VAEConfig())
    light = VideoVAE(VAEConfig(decoder_block_out_channels=(16, 32, 64)))
    n = sum(p.numel() for p in light.vae.decoder.parameters())
    assert n < sum(p.numel() for p in full.vae.decoder.parameters())
    # The cost sits at full resolution, where the light decoder has half the channels.
    assert light.vae.decoder.conv_out.in_channels == 16 < full.vae.decoder.conv_out.in_channels
    assert light.vae.encoder.conv_in.out_channels == full.vae.encoder.conv_in.out_channels  # the encoder is unchanged
    with torch.no_grad():
        video = light.decode(torch.randn(1, 3, 4, 16, 16))
    assert video.shape == (1, 3, 3, 64, 64)


def test_decoder_levels_must_match_the_encoder():
    import pytest

    from mobilevid.errors import MobilevidError

    with pytest.raises(MobilevidError, match="needs 3 levels"):
        VideoVAE(VAEConfig(decoder_block_out_channels=(16, 32)))
