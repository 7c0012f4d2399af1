import pytest


@pytest.fixture(scope="session")
def tiny_pipe(tiny_model_dir):
    from mobilevid.pipeline import Pipeline

    return Pipeline.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def pruned_tiny_dirs(tiny_model_dir, tmp_path_factory):
    """The tiny model with its denoiser, and separately its VAE decoder, pruned by half (no recovery)."""
    from mobilevid.pruning.prune import run_prune
    from mobilevid.pruning.prune_config import PruneConfig

    out = {}
    for component in ("denoiser", "vae_decoder"):
        run = tmp_path_factory.mktemp("pruned") / component
        out[component] = run_prune(PruneConfig(component=component, ratio=0.5), tiny_model_dir, run)
    return out
