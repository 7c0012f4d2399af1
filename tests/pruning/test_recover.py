"""Recovery after pruning: it moves only the pruned component, and a stopped run resumes bit-exactly."""

import pytest
import torch
from safetensors.torch import load_file

from mobilevid.pruning.prune import run_prune
from mobilevid.pruning.prune_config import PruneConfig, RecoverConfig


def _cfg(component: str, steps: int) -> PruneConfig:
    recover = RecoverConfig(steps=steps, batch_size=1, frames=2, lr=1e-3, checkpoint_every=2, log_every=1)
    return PruneConfig(component=component, ratio=0.5, data="shapes", recover=recover)


def _weights(model_dir, component):
    folder = "vae" if component == "vae_decoder" else "denoiser"
    return load_file(str(model_dir / folder / "model.safetensors"))


# The denoiser variant prunes three times and loads the text encoder: about a minute on one core.
@pytest.mark.parametrize("component", ["vae_decoder", pytest.param("denoiser", marks=pytest.mark.slow)])
def test_stopped_recovery_resumes_to_the_same_weights(tiny_model_dir, tmp_path, component):
    full = run_prune(_cfg(component, 4), tiny_model_dir, tmp_path / "full")
    # A run stopped after its step-2 checkpoint (what a kill leaves), then continued with --resume.
    stopped = tmp_path / "stopped"
    run_prune(_cfg(component, 2), tiny_model_dir, stopped)
    assert sorted(p.name for p in (stopped / "stages" / "recover" / "checkpoints").iterdir()) == ["step-0000002"]
    resumed = run_prune(_cfg(component, 4), tiny_model_dir, stopped, resume=True)
    a, b = _weights(full, component), _weights(resumed, component)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # Recovery moved the pruned weights; for the decoder, only the decoder side.
    start = _weights(tmp_path / "full" / "stages" / "prune" / "model", component)
    moved = [k for k in a if not torch.equal(a[k], start[k])]
    assert moved
    if component == "vae_decoder":
        assert all(not k.startswith("vae.encoder.") and not k.startswith("vae.quant_conv.") for k in moved)
