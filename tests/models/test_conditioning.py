"""The per-frame text embedding: starts at zero, tells frames apart, ignores padding tokens."""

import torch

from mobilevid.models.conditioning import FrameTextEmbedding


def _trained_like(module: torch.nn.Module) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=gen))
    return module


def test_starts_at_zero():
    emb = FrameTextEmbedding(text_dim=32, embed_dim=16)
    out = emb(torch.randn(2, 7, 32), torch.ones(2, 7), num_frames=5)
    assert out.shape == (2, 5, 16)
    assert torch.equal(out, torch.zeros_like(out))


def test_frames_differ_and_follow_the_text():
    emb = _trained_like(FrameTextEmbedding(text_dim=32, embed_dim=16))
    states = torch.randn(2, 7, 32)
    out = emb(states, None, num_frames=5)
    assert (out[:, 0] - out[:, 4]).abs().max() > 1e-3  # frame index matters
    assert (out[0] - out[1]).abs().max() > 1e-3  # the prompt matters


def test_padding_tokens_are_ignored():
    emb = _trained_like(FrameTextEmbedding(text_dim=32, embed_dim=16))
    states = torch.randn(1, 7, 32)
    mask = torch.tensor([[1.0, 1, 1, 1, 0, 0, 0]])
    changed = states.clone()
    changed[:, 4:] = torch.randn(1, 3, 32)
    assert torch.allclose(emb(states, mask, 4), emb(changed, mask, 4), atol=1e-6)
    assert not torch.allclose(emb(states, None, 4), emb(changed, None, 4), atol=1e-6)


def test_position_embedding_starts_at_zero_and_varies_over_the_frame():
    from mobilevid.models.conditioning import PositionEmbedding

    pos = PositionEmbedding(8)
    like = torch.zeros(1)
    assert torch.equal(pos(4, 6, like), torch.zeros(1, 8, 4, 6))
    _trained_like(pos)
    out = pos(4, 6, like)
    assert (out[..., 0, 0] - out[..., 0, 5]).abs().max() > 1e-3  # left vs right
    assert (out[..., 0, 0] - out[..., 3, 0]).abs().max() > 1e-3  # top vs bottom


def test_frame_layout_starts_at_zero_then_paints_per_frame_and_per_prompt():
    from mobilevid.models.conditioning import FrameLayoutEmbedding

    layout = FrameLayoutEmbedding(text_dim=32, out_channels=8, grid=4)
    states, mask = torch.randn(2, 7, 32), torch.tensor([[1.0] * 5 + [0.0] * 2] * 2)
    out = layout(states, mask, 3, 8, 12)
    assert out.shape == (2 * 3, 8, 8, 12) and torch.equal(out, torch.zeros_like(out))
    _trained_like(layout)
    out = layout(states, mask, 3, 8, 12).reshape(2, 3, 8, 8, 12)
    assert (out[:, 0] - out[:, 2]).abs().max() > 1e-3  # frame index matters
    assert (out[0] - out[1]).abs().max() > 1e-3  # the prompt matters
    assert (out[..., 0, 0] - out[..., 7, 11]).abs().max() > 1e-3  # a map, not a constant
    assert torch.equal(out[..., 0:2, 0:3], out[..., 0:1, 0:1].expand(-1, -1, -1, 2, 3))  # one cell = 2 x 3 pixels
    changed = states.clone()
    changed[:, 5:] = torch.randn(2, 2, 32)
    assert torch.allclose(layout(states, mask, 3, 8, 12), layout(changed, mask, 3, 8, 12), atol=1e-6)
