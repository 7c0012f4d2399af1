import copy

import pytest
import torch
from model_helpers import randomize

from mobilevid.models.arch_spec import allowed_candidates, slot_table
from mobilevid.models.video_unet import VideoUNet

B, F, C, H = 2, 4, 4, 16


def _inputs(seed=0, frames=F):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(B, frames, C, H, H, generator=g),
        torch.tensor([100.0, 800.0]),
        torch.randn(B, 6, 384, generator=g),
    )


def _every_allowed(cfg):
    return [(s.index, name) for s in slot_table(cfg) for name in allowed_candidates(s, cfg)]


def test_every_candidate_in_every_allowed_slot_runs_forward_and_backward(tiny_config):
    # All candidates at once, each in every slot where it is allowed: one forward/backward covers them all.
    cfg = copy.deepcopy(tiny_config)
    arch = {}
    for index, name in _every_allowed(cfg):
        arch.setdefault(str(index), []).append(name)
    cfg.arch = {"slots": arch}
    model = VideoUNet(cfg)
    randomize(model.temporal, seed=1)
    x, t, text = _inputs()
    out = model(x, t, text, pooled_text=torch.randn(B, 384), fps=torch.tensor([8.0, 4.0]))
    assert out.shape == x.shape
    out.square().mean().backward()
    for index, layers in model.temporal.items():
        for layer in layers:
            grads = [p.grad for p in layer.parameters()]
            assert all(g is not None for g in grads), f"slot {index} {type(layer).__name__} got no gradient"
            assert any(g.abs().sum() > 0 for g in grads), f"slot {index} {type(layer).__name__} gradient is zero"


def test_zero_init_video_model_equals_image_backbone_per_frame(tiny_config):
    cfg = copy.deepcopy(tiny_config)
    cfg.arch = {"slots": {str(i): [n for n in allowed_candidates(s, cfg)] for i, s in enumerate(slot_table(cfg))}}
    video = VideoUNet(cfg).eval()
    # Randomise the spatial backbone only; temporal outputs keep their zero init.
    randomize(video, seed=2)
    for layers in video.temporal.values():
        for layer in layers:
            torch.nn.init.zeros_(layer.proj_out.weight if hasattr(layer, "proj_out") else layer.attn.to_out.weight)
            out_mod = layer.proj_out if hasattr(layer, "proj_out") else layer.attn.to_out
            torch.nn.init.zeros_(out_mod.bias)
    image_cfg = copy.deepcopy(cfg)
    image_cfg.arch = {"slots": {}}
    image = VideoUNet(image_cfg).eval()
    image.load_state_dict({k: v for k, v in video.state_dict().items() if not k.startswith("temporal.")})
    x, t, text = _inputs()
    with torch.no_grad():
        out_video = video(x, t, text)
        per_frame = torch.stack([image(x[:, i : i + 1], t, text)[:, 0] for i in range(F)], dim=1)
    assert (out_video - per_frame).abs().max() < 1e-5


def test_frames_at_different_timesteps_in_one_call(tiny_config):
    cfg = copy.deepcopy(tiny_config)
    cfg.arch = {"slots": {}}
    model = randomize(VideoUNet(cfg).eval(), seed=3)
    x, _, text = _inputs()
    per_frame_t = torch.tensor([[0.0, 250.0, 500.0, 999.0], [999.0, 10.0, 10.0, 600.0]])
    with torch.no_grad():
        out = model(x, per_frame_t, text)
        for b in range(B):
            for f in range(F):
                single = model(x[b : b + 1, f : f + 1], per_frame_t[b, f : f + 1], text[b : b + 1])
                assert (single[0, 0] - out[b, f]).abs().max() < 1e-5
        # and a (B,) vector broadcasts to every frame
        flat = model(x, torch.tensor([5.0, 5.0]), text)
        full = model(x, torch.full((B, F), 5.0), text)
    assert torch.allclose(flat, full)


def test_directed_attention_is_causal(tiny_config):
    cfg = copy.deepcopy(tiny_config)
    cfg.arch = {"slots": {str(s.index): ["directed_temporal_attention"] for s in slot_table(cfg)}}
    model = randomize(VideoUNet(cfg).eval(), seed=4)
    x, t, text = _inputs()
    k = 2
    x2 = x.clone()
    x2[:, k] += torch.randn_like(x2[:, k])
    with torch.no_grad():
        a, b = model(x, t, text), model(x2, t, text)
    assert (a[:, :k] - b[:, :k]).abs().max() < 1e-5  # frames before k do not see frame k
    assert (a[:, k:] - b[:, k:]).abs().max() > 1e-3  # frames from k on do


def test_visual_condition_changes_nothing_at_init(tiny_config):
    model = VideoUNet(tiny_config).eval()
    randomize(model, seed=5)
    torch.nn.init.zeros_(model.visual_condition.scale_shift[0].weight)
    for head in model.visual_condition.scale_shift:
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.zeros_(head.bias)
    x, t, text = _inputs()
    cond = torch.randn_like(x)
    mask = torch.tensor([[1.0, 0, 0, 1], [1, 0, 0, 0]])
    with torch.no_grad():
        plain = model(x, t, text)
        conditioned = model(x, t, text, cond_latents=cond, cond_mask=mask)
    assert (plain - conditioned).abs().max() < 1e-6
    fresh = VideoUNet(tiny_config).eval()
    with torch.no_grad():
        assert (fresh(x, t, text) - fresh(x, t, text, cond_latents=cond, cond_mask=mask)).abs().max() == 0


def test_pooled_text_and_fps_start_at_zero_effect(tiny_config):
    model = VideoUNet(tiny_config).eval()
    x, t, text = _inputs()
    with torch.no_grad():
        plain = model(x, t, text)
        extra = model(x, t, text, pooled_text=torch.randn(B, 384), fps=torch.tensor([8.0, 24.0]))
    assert torch.equal(plain, extra)


def test_multi_query_attention_runs(tiny_config):
    cfg = copy.deepcopy(tiny_config)
    cfg.multi_query = True
    model = VideoUNet(cfg)
    x, t, text = _inputs()
    assert model(x, t, text).shape == x.shape
    k = model.down_blocks[1][0].attention.transformer_blocks[0].attn1.to_k
    assert k.out_channels == 32  # one shared key head of head_dim channels


def test_save_and_load_roundtrip(tiny_config, tmp_path):
    model = randomize(VideoUNet(tiny_config), seed=6)
    model.save_pretrained(tmp_path / "m")
    loaded = VideoUNet.from_pretrained(tmp_path / "m")
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


def test_too_many_frames_is_an_error(tiny_config):
    model = VideoUNet(tiny_config)
    x, t, text = _inputs(frames=F + 1)
    with pytest.raises(ValueError, match="at most 4 frames"):
        model(x, t, text)
