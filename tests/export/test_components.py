"""The exported components reproduce the pipeline's own computation on real inputs."""

import torch


def test_components_have_real_static_inputs(default_pipe, default_components):
    cfg = default_pipe.config
    den = default_components["denoiser"]
    assert list(den.example) == ["sample", "timestep", "text_states", "text_mask", "pooled_text"]
    assert den.example["sample"].shape == (1, cfg.num_frames, 4, cfg.denoiser.latent_height, cfg.denoiser.latent_width)
    text = default_components["text_encoder"]
    assert text.example["input_ids"].dtype == torch.int32
    # Different held-out prompts and clips per sample, not one input repeated.
    assert not torch.equal(text.samples[0]["input_ids"], text.samples[1]["input_ids"])
    dec = default_components["vae_decoder"]
    assert not torch.equal(dec.samples[0]["latents"], dec.samples[1]["latents"])
    video = dec.reference(dec.example)[0]
    assert video.shape == (1, cfg.num_frames, 3, cfg.height, cfg.width)


def test_denoiser_component_matches_the_pipeline_call(default_pipe, default_components):
    den = default_components["denoiser"]
    s = den.example
    want = default_pipe.denoiser(s["sample"], s["timestep"], s["text_states"], encoder_attention_mask=s["text_mask"],
                                 pooled_text=s["pooled_text"], fps=torch.tensor([default_pipe.config.fps]))
    assert torch.allclose(den.reference(s)[0], want)
