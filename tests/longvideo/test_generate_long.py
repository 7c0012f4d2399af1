"""``mobilevid generate`` beyond the model's window (the tiny test model has a 4-frame window)."""

import av
import pytest

from mobilevid.cli.main import main


def _frames(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _pixels(path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").tobytes() for f in container.decode(video=0)]


def test_more_frames_than_the_window_streams_a_fifo_video(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "long.mp4"
    assert main(["generate", "a red circle", "--model", str(tiny_model_dir), "--frames", "9", "--partitions", "1",
                 "--guidance", "1", "--prompt", "5: a blue square", "-o", str(out)]) == 0
    assert _frames(out) == 9
    text = capsys.readouterr().out
    assert "fifo: 4 levels, 1 partition(s), block 1, lookahead on" in text


def test_autoregressive_and_nuwa_on_a_model_recorded_as_trained_for_infilling(infilling_model_dir, tmp_path):
    common = ["--model", str(infilling_model_dir), "--frames", "7", "--steps", "1", "--guidance", "1"]
    assert main(["generate", "a red circle", *common, "--long", "autoregressive", "-o", str(tmp_path / "ar.mp4")]) == 0
    assert _frames(tmp_path / "ar.mp4") == 7
    assert main(["generate", "a red circle", *common, "--long", "nuwa", "-o", str(tmp_path / "nuwa.mp4")]) == 0
    assert _frames(tmp_path / "nuwa.mp4") == 7
    # One local call per forward pass: the same video, decoded the same way.
    assert main(["generate", "a red circle", *common, "--long", "nuwa", "--max-batch", "1",
                 "-o", str(tmp_path / "nuwa1.mp4")]) == 0
    assert _pixels(tmp_path / "nuwa1.mp4") == _pixels(tmp_path / "nuwa.mp4")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--frames", "9", "--long", "nuwa"], "trained for first/last-frame infilling"),
        (["--frames", "9", "-o", "x.gif"], "streams to an .mp4"),
        (["--prompt", "five: text"], "FRAME: text"),
        (["--frames", "9", "--prompt", "20: late"], "past the video"),
        (["--frames", "9", "--long", "nuwa", "--partitions", "2"], "apply to --long fifo"),
        (["--frames", "9", "--steps", "3"], "set --partitions instead of --steps"),
        (["--frames", "9", "--max-batch", "2"], "apply to --long nuwa"),
        (["--frames", "9", "--long", "nuwa", "--max-batch", "0"], "--max-batch must be at least 1"),
    ],
)
def test_long_video_bad_input_is_one_line(args, message, tiny_model_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if "-o" not in args:
        args = [*args, "-o", "x.mp4"]
    assert main(["generate", "a cat", "--model", str(tiny_model_dir), *args]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not list(tmp_path.glob("*.mp4"))
