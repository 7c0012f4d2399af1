"""The built-in NUWA-XL model ships in the package and says what it was trained for."""

import json

from mobilevid.longvideo.nuwa import plan
from mobilevid.longvideo.run import check_trained_for, nuwa_keyframes
from mobilevid.pipeline import BUILTIN_MODELS, Pipeline, resolve_model_dir


def test_the_nuwa_model_is_built_in_and_trained_at_every_level_stride():
    folder = resolve_model_dir("nuwa")
    assert folder == BUILTIN_MODELS["nuwa"]
    trained = json.loads((folder / "model_index.json").read_text())["trained_for"]
    assert trained["visual_condition"] is True
    assert {1, 15, 225} <= set(trained["frame_strides"])
    pipe = Pipeline.from_pretrained("nuwa")
    assert check_trained_for("nuwa", pipe.config) == []  # no note: every level's stride was trained
    levels = plan(1024, 16, nuwa_keyframes(pipe.config, 1024, None)).levels
    assert {level.stride for level in levels} <= set(trained["frame_strides"])
