"""``mobilevid search``: bad arguments are one-line errors before any work."""

import pytest

from mobilevid.cli.main import main


@pytest.mark.parametrize("argv, message", [
    (["lut", "--preset", "tiny", "--runtime", "torch", "--quantize", "w8a8", "-o", "{tmp}/t.json"],
     "--quantize w8a8 is not available on torch"),
    (["lut", "--preset", "tiny", "--runtime", "torch", "--candidates", "conv4d", "-o", "{tmp}/t.json"],
     "unknown candidate 'conv4d'"),
    (["lut", "--preset", "tiny", "--runtime", "coreml", "--device-json", "{tmp}/none.json", "-o", "{tmp}/t.json"],
     "device measurement not found"),
    (["evolve", "--supernet", "{tmp}", "--lut", "{tmp}/none.json", "--latency-budget", "10", "-o", "{tmp}/s"],
     "cost table not found"),
    (["supernet", "--model", "{tmp}/none", "-o", "{tmp}/s", "--max-steps", "0"], "--max-steps must be at least 1"),
])
def test_bad_arguments_are_one_line_errors(argv, message, tmp_path, capsys):
    assert main(["search", *[a.format(tmp=tmp_path) for a in argv]]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("mobilevid search: error:")


def test_lut_refuses_to_overwrite_a_table(tmp_path, capsys):
    (tmp_path / "t.json").write_text("{}")
    assert main(["search", "lut", "--preset", "tiny", "--runtime", "torch", "-o", str(tmp_path / "t.json")]) == 1
    assert "pass --overwrite" in capsys.readouterr().err
