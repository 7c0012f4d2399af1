"""The tiny denoiser, text encoder and VAE decoder pass torch.export, lower to XNNPACK and run in ExecuTorch."""

import pytest
import torch

from mobilevid.models.presets import get_preset
from mobilevid.models.text_encoder import TextEncoder
from mobilevid.models.vae import VAEDecoder, VideoVAE
from mobilevid.models.video_unet import VideoUNet

pytestmark = pytest.mark.slow


class DenoiserCall(torch.nn.Module):
    def __init__(self, model: VideoUNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, sample, timestep, text, mask, pooled):
        return self.model(sample, timestep, text, encoder_attention_mask=mask, pooled_text=pooled)


def _lower_and_run(module, args, tmp_path):
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower
    from executorch.runtime import Runtime

    program = torch.export.export(module, args)
    et = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch()
    path = tmp_path / "m.pte"
    path.write_bytes(et.buffer)
    outputs = Runtime.get().load_program(str(path)).load_method("forward").execute(list(args))
    with torch.no_grad():
        expected = module(*args)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(outputs) == len(expected)
    for got, want in zip(outputs, expected, strict=True):
        assert got.shape == want.shape
        assert (got - want).abs().max() < 1e-3 * max(1.0, float(want.abs().max()))


def test_tiny_denoiser_runs_in_executorch(tmp_path):
    torch.manual_seed(0)
    cfg = get_preset("tiny").denoiser
    model = VideoUNet(cfg).eval()
    with torch.no_grad():
        for layers in model.temporal.values():  # non-zero temporal outputs so they are really exercised
            for p in layers.parameters():
                p.add_(0.02 * torch.randn_like(p))
    f = cfg.num_frames
    args = (torch.randn(1, f, 4, 16, 16), torch.full((1, f), 500.0), torch.randn(1, 32, 384),
            torch.ones(1, 32), torch.randn(1, 384))
    _lower_and_run(DenoiserCall(model).eval(), args, tmp_path)


def test_tiny_vae_decoder_runs_in_executorch(tmp_path):
    vae = VideoVAE(get_preset("tiny").vae).eval()
    _lower_and_run(VAEDecoder(vae).eval(), (torch.randn(1, 4, 4, 16, 16),), tmp_path)


def test_text_encoder_runs_in_executorch(tmp_path):
    enc = TextEncoder(max_length=32)
    ids, mask = enc.tokenize(["a red circle moving right"])
    _lower_and_run(enc.module.eval(), (ids, mask), tmp_path)
