"""make_xnnpack_friendly: same numbers as the model, and a graph XNNPACK takes whole (no portable breaks)."""

import pytest
import torch
from torch import nn

from mobilevid.export.xnnpack_friendly import (
    XnnpackChannelsFirstAttention,
    XnnpackGroupNorm,
    XnnpackLayerNormChannels,
    make_xnnpack_friendly,
)
from mobilevid.models.arch_spec import slot_table
from mobilevid.models.layers import MASK_VALUE
from mobilevid.models.presets import get_preset
from mobilevid.models.spatial_transformer import SpatialTransformer
from mobilevid.models.vae import VAEConfig, VideoVAE
from mobilevid.models.video_unet import VideoUNet


def _randomise(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights everywhere: zero-initialised outputs and unit norms would hide a wrong swap."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            norm_scale = p.dim() == 1 and name.endswith("weight")  # keep norm weights around 1
            p.copy_(torch.randn(p.shape, generator=gen) * 0.2 + float(norm_scale))
    return module.eval()


def _text_bias(mask: torch.Tensor) -> torch.Tensor:
    return ((1 - mask) * MASK_VALUE).reshape(mask.shape[0], 1, 1, -1)


@pytest.mark.parametrize("multi_query", [False, True])
def test_tiny_video_unet_matches_the_original(multi_query):
    config = get_preset("tiny").denoiser
    config.multi_query = multi_query
    # Every temporal candidate somewhere: causal (2-D bias), 3-D, cross-attention and the adaptor too.
    low = [s.index for s in slot_table(config) if s.height * s.width <= config.max_3d_tokens]
    config.arch = {"slots": {str(low[0]): ["directed_temporal_attention", "spatiotemporal_attention"],
                             str(low[-1]): ["temporal_cross_attention", "frame_adaptor", "temporal_attention"]}}
    model = _randomise(VideoUNet(config))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    friendly = make_xnnpack_friendly(model)
    gen = torch.Generator().manual_seed(1)
    sample = torch.randn(1, 3, config.in_channels, config.latent_height, config.latent_width, generator=gen)
    text = torch.randn(1, 8, config.cross_attention_dim, generator=gen)
    mask = torch.tensor([[1.0] * 5 + [0.0] * 3])
    args = (sample, torch.tensor([500.0]), text, mask, torch.randn(1, config.pooled_text_dim, generator=gen),
            torch.tensor([8.0]))
    with torch.no_grad():
        want, got = model(*args), friendly(*args)
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))
    # Swapped in the copy only; the caller's model keeps its classes and weights.
    kinds = {type(m) for m in friendly.modules()}
    assert {XnnpackGroupNorm, XnnpackLayerNormChannels, XnnpackChannelsFirstAttention} <= kinds
    assert nn.GroupNorm not in kinds
    assert not any(type(m).__module__ == XnnpackGroupNorm.__module__ for m in model.modules())
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_video_vae_decoder_matches_the_original():
    """diffusers' ResNet blocks, mid-block attention (3-D GroupNorm input) and nearest 2x upsampling."""
    vae = _randomise(VideoVAE(VAEConfig(block_out_channels=(8, 16), norm_num_groups=4)))
    friendly = make_xnnpack_friendly(vae)
    latents = torch.randn(1, 3, 4, 6, 5, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want, got = vae.decode(latents), friendly.decode(latents)
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))
    assert type(vae.vae.decoder.mid_block.attentions[0].processor).__name__ == "AttnProcessor2_0"
    assert type(friendly.vae.decoder.mid_block.attentions[0].processor).__name__ == "XnnpackAttnProcessor"


class _Block(nn.Module):
    """One spatial transformer with a padding mask: GroupNorm, LayerNormChannels, masked SDPA, GEGLU."""

    def __init__(self) -> None:
        super().__init__()
        self.attention = SpatialTransformer(16, heads=2, context_dim=12, groups=4)

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.attention(x, context, _text_bias(mask))


def test_small_block_lowers_to_one_xnnpack_delegate():
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.devtools.backend_debug import get_delegation_info
    from executorch.exir import to_edge_transform_and_lower

    block = _randomise(_Block())
    gen = torch.Generator().manual_seed(3)
    args = (torch.randn(2, 16, 4, 4, generator=gen), torch.randn(2, 12, 1, 5, generator=gen),
            torch.tensor([[1.0, 1, 1, 0, 0]] * 2))
    edge = to_edge_transform_and_lower(torch.export.export(make_xnnpack_friendly(block), args),
                                       partitioner=[XnnpackPartitioner()])
    info = get_delegation_info(edge.exported_program().graph_module)
    portable = {op for op, count in info.delegation_by_operator.items() if count.non_delegated}
    for op in ("native_group_norm", "mean_dim", "logical_not", "where", "any_dim", "expand_copy", "full_like"):
        assert not any(op in name for name in portable), (op, portable)
    assert info.num_delegated_subgraphs == 1
