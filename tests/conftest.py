import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """An untrained tiny model folder (4 frames) for pipeline and CLI tests."""
    from mobilevid.models.presets import get_preset
    from mobilevid.pipeline import Pipeline

    cfg = get_preset("tiny")
    cfg.num_frames = 4
    cfg.denoiser.num_frames = 4
    cfg.sampling.steps = 2
    path = tmp_path_factory.mktemp("models") / "tiny"
    Pipeline.from_config(cfg).save_pretrained(path)
    return path
