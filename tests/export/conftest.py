import pytest


@pytest.fixture(scope="session")
def default_pipe():
    """The built-in tiny default model: what the acceptance points export."""
    from mobilevid.pipeline import Pipeline

    return Pipeline.from_pretrained(None)


@pytest.fixture(scope="session")
def default_components(default_pipe):
    from mobilevid.export.components import build_components

    return build_components(default_pipe, num_samples=4)
