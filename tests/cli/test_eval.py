import json

from mobilevid.cli.main import main


def test_eval_writes_one_key_per_metric(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["eval", "--model", str(tiny_model_dir), "--suite", "shapes", "--prompts", "2", "--steps", "1",
                 "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| run |" in table and "color_accuracy" in table
    data = json.loads(out.read_text())
    for key in ("color_accuracy", "shape_accuracy", "motion_accuracy", "temporal_flickering", "fd_effnet",
                "seconds_per_video", "model_evaluations_per_video"):
        assert isinstance(data[key], float), key
    assert data["model_evaluations_per_video"] == 2.0  # 1 guided step = 2 model calls


def test_eval_bad_values(tiny_model_dir, capsys):
    assert main(["eval", "--model", str(tiny_model_dir), "--suite", "digits", "--prompts", "1"]) == 1
    assert "--prompts must be at least 2" in capsys.readouterr().err
