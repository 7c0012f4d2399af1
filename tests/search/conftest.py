import pytest

# The search tests share one tiny supernet: run them on one pytest-xdist worker so it is trained once.
SHARED_FIXTURES = ("supernet_dir",)


def pytest_collection_modifyitems(items):
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in SHARED_FIXTURES):
            item.add_marker(pytest.mark.xdist_group("search_supernet"))


@pytest.fixture(scope="session")
def supernet_dir(tiny_model_dir, tmp_path_factory):
    """A one-step supernet over three candidates of the untrained tiny model (4 frames)."""
    from mobilevid.search.supernet import SupernetConfig, train_supernet

    out = tmp_path_factory.mktemp("search") / "supernet"
    cfg = SupernetConfig(data="shapes", steps=1, batch_size=1, random_subnets=1, log_every=1,
                         candidates=["temporal_conv", "temporal_attention", "frame_adaptor"])
    train_supernet(cfg, str(tiny_model_dir), out)
    return out
