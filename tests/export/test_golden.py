"""``mobilevid golden``: bad input is one line, before any model loads (the recorded run: test_swift_parity.py)."""

from mobilevid.cli.main import main
from mobilevid.export.golden import randn_kernel


def test_missing_bundle_is_one_line_error(tmp_path, capsys):
    assert main(["golden", "--bundle", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err.strip()
    assert "bundle folder not found" in err and "\n" not in err


def test_existing_output_is_refused_before_loading(tmp_path, capsys):
    out = tmp_path / "golden"
    out.mkdir()
    (out / "index.json").write_text("{}")
    assert main(["golden", "--bundle", str(tmp_path / "nope"), "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert "already exists" in err and "--overwrite" in err and "\n" not in err
    assert (out / "index.json").read_text() == "{}"


def test_bad_seed_and_empty_prompt(tmp_path, capsys):
    assert main(["golden", "--bundle", str(tmp_path), "--seed", "-1"]) == 1
    assert "seed must be an integer" in capsys.readouterr().err
    assert main(["golden", "--bundle", str(tmp_path), "--prompt", "  "]) == 1
    assert "empty prompt" in capsys.readouterr().err


def test_randn_kernel_follows_torch_capability():
    assert randn_kernel("AVX512") == randn_kernel("AVX2") == "avx2"
    assert randn_kernel("DEFAULT") == randn_kernel("SVE256") == "scalar"
