"""The denoiser's per-frame text: text states (B, F, L, D) give each frame its own prompt."""

import torch

from mobilevid.models.presets import get_preset
from mobilevid.models.video_unet import VideoUNet


def _model(temporal: bool) -> VideoUNet:
    cfg = get_preset("tiny").denoiser
    cfg.num_frames = 4
    cfg.frame_text_conditioning = cfg.frame_layout_conditioning = True
    if not temporal:
        cfg.arch = {"slots": {}}
    model = VideoUNet(cfg).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():  # random weights: zero-initialised outputs would hide the text path
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return model


def _inputs():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 4, 4, 16, 16, generator=g)
    t = torch.tensor([[900.0, 600.0, 300.0, 100.0]])
    text = torch.randn(2, 8, 384, generator=g)  # two prompts, 8 tokens each
    pooled = torch.randn(2, 384, generator=g)
    mask = torch.ones(2, 8)
    mask[1, 6:] = 0
    return x, t, text, pooled, mask


@torch.no_grad()
def test_one_prompt_per_frame_equals_the_clip_level_path():
    model = _model(temporal=True)
    x, t, text, pooled, mask = _inputs()
    clip = model(x, t, text[:1], encoder_attention_mask=mask[:1], pooled_text=pooled[:1])
    frames = model(x, t, text[:1, None].expand(1, 4, -1, -1), encoder_attention_mask=mask[:1, None].expand(1, 4, -1),
                   pooled_text=pooled[:1, None].expand(1, 4, -1))
    torch.testing.assert_close(frames, clip, atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_each_frame_reads_its_own_prompt():
    # Without temporal layers frames do not mix, so frame j must match the clip-level run of its prompt.
    model = _model(temporal=False)
    x, t, text, pooled, mask = _inputs()
    which = [0, 1, 1, 0]
    per_frame = model(x, t, text[which][None], encoder_attention_mask=mask[which][None],
                      pooled_text=pooled[which][None])
    for p in (0, 1):
        clip = model(x, t, text[p:p + 1], encoder_attention_mask=mask[p:p + 1], pooled_text=pooled[p:p + 1])
        for j, w in enumerate(which):
            if w == p:
                torch.testing.assert_close(per_frame[:, j], clip[:, j], atol=1e-5, rtol=1e-5)
            else:
                assert (per_frame[:, j] - clip[:, j]).abs().max() > 1e-3
