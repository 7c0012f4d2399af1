import os

import pytest
import torch

# Under pytest-xdist each worker gets its share of the cores: two workers with torch's default
# threads each would oversubscribe a 2-core machine and run slower than one.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))


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
