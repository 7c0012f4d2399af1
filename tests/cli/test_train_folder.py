"""`mobilevid train --data DIR` and `mobilevid distill --data shapes+DIR` on a folder of real clips.

The clips are real H.264 MP4s and a GIF written with PyAV / Pillow (``mobilevid.video_io``), of
different sizes, aspect ratios and frame rates, with one corrupt file among them.
"""

import json
import logging
from pathlib import Path

import pytest
import torch

from mobilevid.cli.main import main
from mobilevid.pipeline import Pipeline
from mobilevid.video_io import write_video

# (file, height, width, fps, frames): landscape 16:9, portrait, square, a GIF; sizes >= 129 px are
# written as they are (write_video upscales smaller clips).
CLIPS = [("wide.mp4", 90, 160, 24.0, 30), ("tall.mp4", 160, 96, 12.0, 14), ("square.mp4", 130, 130, 30.0, 25),
         ("anim.gif", 40, 56, 10.0, 10)]


def _moving_square(height: int, width: int, frames: int, seed: int) -> torch.Tensor:
    """(F, 3, H, W) in [0, 1]: a coloured square crossing a grey frame left to right."""
    g = torch.Generator().manual_seed(seed)
    video = torch.full((frames, 3, height, width), 0.2)
    side = max(4, min(height, width) // 4)
    color = torch.rand(3, generator=g)
    top = int(torch.randint(0, height - side, (1,), generator=g))
    for f in range(frames):
        left = round(f * (width - side) / max(frames - 1, 1))
        video[f, :, top : top + side, left : left + side] = color[:, None, None]
    return video


@pytest.fixture(scope="module")
def clip_folders(tmp_path_factory) -> tuple[Path, Path]:
    """Two folders of the same real clips: one captioned by captions.csv, one by captions.jsonl."""
    root = tmp_path_factory.mktemp("clips")
    csv_dir, jsonl_dir = root / "csv", root / "jsonl"
    captions = {}
    for i, (name, h, w, fps, frames) in enumerate(CLIPS):
        for folder in (csv_dir, jsonl_dir):
            write_video(folder / name, _moving_square(h, w, frames, i), fps=fps)
        captions[name] = f"a square sliding right, clip {i}"
    for folder in (csv_dir, jsonl_dir):
        (folder / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    captions["corrupt.mp4"] = "a file no decoder reads"
    (csv_dir / "captions.csv").write_text("file,caption\n" + "".join(f'{k},"{v}"\n' for k, v in captions.items()))
    (jsonl_dir / "captions.jsonl").write_text("".join(json.dumps({"video": k, "text": v}) + "\n"
                                                      for k, v in captions.items()))
    return csv_dir, jsonl_dir


def _skip_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "mobilevid.data" and "skipped" in r.getMessage()]


def test_train_on_a_folder_of_real_clips(clip_folders, tmp_path, caplog, capsys):
    csv_dir, _ = clip_folders
    out = tmp_path / "run"
    with caplog.at_level(logging.WARNING, logger="mobilevid.data"):
        code = main(["train", "--output", str(out), "--preset", "tiny", "--data", str(csv_dir), "--max-steps", "2",
                     "--set", "stages=[vae,denoiser]", "--set", "num_frames=4", "--set", "vae.batch_size=2",
                     "--set", "denoiser.batch_size=2", "--set", "denoiser.image_ratio=0", "--set", "log_every=1"])
    assert code == 0, capsys.readouterr().err[-2000:]
    assert f"model: {out / 'model'}" in capsys.readouterr().out
    warnings = _skip_warnings(caplog)
    assert warnings and all("skipped 1 of 5" in w and "1 unreadable" in w for w in warnings)
    pipe = Pipeline.from_pretrained(out / "model")
    assert (pipe.config.height, pipe.config.width, pipe.config.num_frames) == (64, 64, 4)
    assert torch.isfinite(pipe.denoiser.conv_in.weight).all()
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["data"] == str(csv_dir) and run["config"]["data_crop"] == "random"


def test_distill_on_a_mix_with_a_folder(clip_folders, tiny_model_dir, tmp_path, caplog, capsys):
    _, jsonl_dir = clip_folders
    out = tmp_path / "student"
    with caplog.at_level(logging.WARNING, logger="mobilevid.data"):
        code = main(["distill", "--teacher", str(tiny_model_dir), "--output", str(out), "--data",
                     f"shapes+{jsonl_dir}", "--max-steps", "2", "--steps", "2", "--set", "batch_size=2",
                     "--set", "teacher_steps=2", "--set", "image_ratio=0", "--set", "data_crop=center"])
    assert code == 0, capsys.readouterr().err[-2000:]
    assert any("skipped 1 of 5" in w for w in _skip_warnings(caplog))
    student = Pipeline.from_pretrained(out / "model")
    assert student.fixed_sigmas is not None and len(student.fixed_sigmas) == 2


def test_bad_folder_data_is_a_one_line_error_before_the_run_starts(clip_folders, tmp_path, capsys):
    csv_dir, _ = clip_folders
    empty = tmp_path / "no_captions"
    empty.mkdir()
    for data in (str(empty), f"shapes+{empty}"):
        out = tmp_path / "never"
        assert main(["train", "--output", str(out), "--data", data, "--max-steps", "1"]) == 1
        err = capsys.readouterr().err
        assert "no caption file" in err and "Traceback" not in err and not out.exists()
    out = tmp_path / "crop"
    assert main(["train", "--output", str(out), "--data", str(csv_dir), "--set", "data_crop=stretch"]) == 1
    assert "data_crop" in capsys.readouterr().err and not out.exists()
