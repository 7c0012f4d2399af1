import json

import pytest


@pytest.fixture(scope="session")
def infilling_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny test model, its model_index.json recording first/last-frame training (what NUWA-XL checks)."""
    model = tmp_path_factory.mktemp("models") / "infilling"
    model.mkdir()
    for item in tiny_model_dir.iterdir():
        if item.name != "model_index.json":
            (model / item.name).symlink_to(item)
    index = json.loads((tiny_model_dir / "model_index.json").read_text())
    index["trained_for"] = {"visual_condition": True, "per_frame_times": False, "frame_strides": [1]}
    (model / "model_index.json").write_text(json.dumps(index))
    return model
