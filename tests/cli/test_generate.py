import av
import pytest

from mobilevid.cli.main import main


def test_generate_mp4_gif_and_grid(tiny_model_dir, tmp_path, capsys):
    mp4 = tmp_path / "demo.mp4"
    assert main(["generate", "a red circle moving right", "--model", str(tiny_model_dir), "--steps", "1",
                 "-o", str(mp4), "--grid", str(tmp_path / "grid.png")]) == 0
    with av.open(str(mp4)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert sum(1 for _ in container.decode(stream)) == 4
    assert (tmp_path / "grid.png").stat().st_size > 0
    assert main(["generate", "a", "b", "--model", str(tiny_model_dir), "--steps", "1", "-o",
                 str(tmp_path / "two.gif")]) == 0
    assert (tmp_path / "two_0.gif").is_file() and (tmp_path / "two_1.gif").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["", "-o", "x.mp4"], "empty prompt"),
        (["a cat", "--frames", "0", "-o", "x.mp4"], "--frames must be at least 1"),
        (["a cat", "-o", "x.avi"], "output must end in .mp4 or .gif"),
        (["a cat", "--model", "/no/such/model", "-o", "x.mp4"], "model folder not found"),
    ],
)
def test_generate_bad_input_is_one_line(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["generate", *args]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_long_prompt_is_truncated_with_a_warning(tiny_model_dir, tmp_path, caplog):
    assert main(["generate", "word " * 80, "--model", str(tiny_model_dir), "--steps", "1",
                 "-o", str(tmp_path / "long.gif")]) == 0
    assert "truncated" in caplog.text
