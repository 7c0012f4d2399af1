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


@pytest.fixture(scope="session")
def onnx_bundle(default_pipe, tmp_path_factory):
    """The default model's float ONNX bundle, exported once for the bundle, generate and profile tests."""
    from mobilevid.export.bundle import export_bundle

    out = tmp_path_factory.mktemp("bundles") / "onnx"
    export_bundle(default_pipe, None, "onnx", "none", output=out, progress=False)
    return out


# Tests that share an expensive fixture run on one pytest-xdist worker (``--dist loadgroup``),
# so it is built once; every other test is scheduled on its own.
SHARED_FIXTURES = ("onnx_bundle", "vae_exports", "et_bundle")


def pytest_collection_modifyitems(items):
    for item in items:
        shared = [name for name in SHARED_FIXTURES if name in getattr(item, "fixturenames", ())]
        if shared:
            item.add_marker(pytest.mark.xdist_group(shared[0]))
