"""``mobilevid prune`` from the command line: help, a one-line error for a ratio that breaks the model."""

import pytest

from mobilevid.cli.main import main


def test_help_explains_pruning_and_recovery(capsys):
    with pytest.raises(SystemExit):
        main(["prune", "--help"])
    text = capsys.readouterr().out
    assert "--recover-steps" in text and "GroupNorm" in text and "--resume" in text


@pytest.mark.parametrize("args, message", [
    (["--ratio", "0.99"], "leaves no GroupNorm group"),
    (["--ratio", "1.5"], "must be in (0, 1)"),
    (["--importance", "magic"], "unknown importance"),
    (["--recover-steps", "-1"], "at least 0"),
    (["--set", "recover.own_levels_prob=1.5"], "must be in [0, 1]"),
    (["--set", "recover.trajectory_prob=0.5"], "needs the denoiser of a distilled student"),
    (["--set", "recover.trajectory_prob=0.5", "--set", "recover.data_weight=1"], "use it with recover.trajectory_prob=0"),
])
def test_bad_requests_fail_in_one_line_before_any_work(tiny_model_dir, tmp_path, capsys, args, message):
    out = tmp_path / "run"
    assert main(["prune", "--model", str(tiny_model_dir), "--component", "denoiser", *args, "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_a_non_empty_output_needs_resume(tiny_model_dir, tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("mine")
    assert main(["prune", "--model", str(tiny_model_dir), "-o", str(tmp_path / "run")]) == 1
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "run" / "keep.txt").read_text() == "mine"
