"""Pruning through torch-pruning's dependency graph: whole norm groups, whole heads, shapes the config rebuilds."""

import pytest
import torch

from mobilevid.models.vae import VideoVAE
from mobilevid.models.video_unet import VideoUNet
from mobilevid.pruning.component_pruning import denoiser_trace_inputs
from mobilevid.pruning.dependency_pruning import _block_scores


def _kept_rows(original: torch.Tensor, pruned: torch.Tensor) -> list[int]:
    """Which rows of ``original`` the pruned weight kept (input channels may be pruned too: compare the overlap)."""
    cols = pruned.shape[1]
    flat_o, flat_p = original[:, :cols].flatten(1), pruned.flatten(1)
    rows = []
    for row in flat_p:
        match = ((flat_o - row).abs().amax(dim=1) == 0).nonzero().flatten().tolist()
        assert len(match) == 1
        rows.append(match[0])
    return rows


def test_block_choice_removes_the_lowest_scoring_whole_blocks():
    scores = torch.tensor([5.0, 5, 0, 0, 9, 9, 1, 1])
    assert _block_scores(scores, 8, 4, 2, None) == [2, 3, 6, 7]
    assert _block_scores(torch.tensor([3.0, 1, 2, 9, 0, 5]), 6, 4, 3, 1) == [1, 4]  # one dim from each head


def test_pruned_decoder_keeps_whole_norm_groups_and_rebuilds_from_its_config(tiny_pipe, pruned_tiny_dirs):
    vae = VideoVAE.from_pretrained(pruned_tiny_dirs["vae_decoder"] / "vae")
    old, new = tiny_pipe.vae.vae.decoder, vae.vae.decoder
    assert new.conv_in.out_channels == old.conv_in.out_channels // 2
    # conv_in writes the mid level's stream (64 channels, 16 groups of 4): whole groups kept, in order.
    rows = _kept_rows(old.conv_in.weight, new.conv_in.weight)
    assert rows == sorted(rows)
    groups = {r // 4 for r in rows}
    assert len(groups) == 8 and sorted(rows) == [g * 4 + i for g in sorted(groups) for i in range(4)]
    assert all(m.num_groups == 8 for m in new.modules() if isinstance(m, torch.nn.GroupNorm))
    # The encoder (so the latent space) is untouched.
    for a, b in zip(tiny_pipe.vae.vae.encoder.parameters(), vae.vae.encoder.parameters(), strict=True):
        assert torch.equal(a, b)
    z = torch.randn(1, 4, 4, 16, 16)
    assert vae.decode(z).shape == tiny_pipe.vae.decode(z).shape


def test_pruned_denoiser_removes_the_same_whole_heads_from_queries_keys_and_values(tiny_pipe, pruned_tiny_dirs):
    den = VideoUNet.from_pretrained(pruned_tiny_dirs["denoiser"] / "denoiser")
    old = tiny_pipe.denoiser.down_blocks[2][0].attention.transformer_blocks[0].attn2
    new = den.down_blocks[2][0].attention.transformer_blocks[0].attn2
    assert (old.heads, new.heads, new.head_dim) == (3, 2, 32)
    # Keys and values read the (unpruned) text states: their kept rows can be read off directly.
    k_rows = _kept_rows(old.to_k.weight, new.to_k.weight)
    assert _kept_rows(old.to_v.weight, new.to_v.weight) == k_rows
    heads = sorted({r // 32 for r in k_rows})
    assert len(heads) == 2 and k_rows == [h * 32 + i for h in heads for i in range(32)]
    # Queries read the pruned stream: the same rows, with some input columns gone.
    q_old = old.to_q.weight.flatten(1)[k_rows]
    for column in new.to_q.weight.flatten(1).t():
        assert ((q_old.t() - column).abs().amax(dim=1) == 0).any()
    assert sum(p.numel() for p in den.parameters()) < 0.4 * sum(p.numel() for p in tiny_pipe.denoiser.parameters())
    inputs = denoiser_trace_inputs(den, 32)
    with torch.no_grad():
        out = den(**inputs)
    assert out.shape == inputs["sample"].shape and torch.isfinite(out).all()


@pytest.mark.parametrize("component", ["denoiser", "vae_decoder"])
def test_a_pruned_model_folder_generates_like_any_other(pruned_tiny_dirs, component):
    from mobilevid.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(pruned_tiny_dirs[component])
    out = pipe("a red circle moving right", seed=0)
    assert out.frames.shape == (1, 4, 3, 64, 64) and torch.isfinite(out.frames).all()


def test_taylor_importance_prunes_a_denoiser_whose_visual_condition_sees_no_gradient(tiny_pipe):
    from mobilevid.pruning.component_pruning import prune_denoiser
    from mobilevid.pruning.prune_config import PruneConfig, RecoverConfig

    cfg = PruneConfig(component="denoiser", ratio=0.5, importance="taylor", calibration_batches=1, data="shapes",
                      recover=RecoverConfig(batch_size=1))
    pruned = prune_denoiser(tiny_pipe.denoiser, tiny_pipe.config, cfg, None, tiny_pipe.vae)
    assert pruned.config.block_out_channels == (16, 32, 48)
    assert all(p.grad is None for p in tiny_pipe.denoiser.parameters())  # the input model is left alone
