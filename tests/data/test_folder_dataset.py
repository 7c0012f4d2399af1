import json
import logging
from pathlib import Path

import numpy as np
import pytest
import skimage
import torch
from torch.utils.data import DataLoader

from mobilevid.data import FolderVideoDataset, collate
from mobilevid.errors import MobilevidError


def test_reads_videos_and_skips_a_corrupt_one(video_folder, caplog):
    with caplog.at_level(logging.WARNING, logger="mobilevid.data"):
        ds = FolderVideoDataset(video_folder, num_frames=8, size=16, fps=8.0)
    assert len(ds) == 3 and ds.num_skipped == 1 and ds.skipped == ["broken.mp4"]
    warnings = [r for r in caplog.records if r.name == "mobilevid.data"]
    assert len(warnings) == 1 and "skipped 1 of 4" in warnings[0].getMessage()
    item = ds[0]
    assert item["video"].shape == (8, 3, 16, 16) and item["video"].dtype == torch.float32
    assert item["video"].min() >= -1.0 and item["video"].max() <= 1.0
    assert item["caption"] == "a red car" and item["labels"] == {"file": "clip0.mp4"}
    batch = next(iter(DataLoader(ds, batch_size=3, collate_fn=collate)))
    assert batch["video"].shape == (3, 8, 3, 16, 16)
    assert batch["caption"] == ["a red car", "a blue boat", "a green tree"]


def test_no_readable_video_is_an_error(tmp_path):
    for name in ("a.mp4", "b.webm"):
        (tmp_path / name).write_bytes(b"not a video at all" * 50)
    (tmp_path / "captions.csv").write_text("video,text\na.mp4,one\nb.webm,two\n")
    with pytest.raises(MobilevidError, match=r"no readable video in .* \(2 files tried\)"):
        FolderVideoDataset(tmp_path)


@pytest.mark.parametrize(
    ("header", "missing"), [("clip,caption", "file"), ("file,description", "caption")]
)
def test_caption_file_without_needed_column(video_folder, header, missing):
    (video_folder / "captions.csv").write_text(f"{header}\nclip0.mp4,x\n")
    with pytest.raises(MobilevidError, match=f"no {missing} column") as err:
        FolderVideoDataset(video_folder)
    assert header.split(",")[0] in str(err.value)  # names the columns it found


def test_webvid_columns_and_explicit_caption_path(tmp_path, write_video):
    rng = np.random.default_rng(1)
    write_video(tmp_path / "000001_000050" / "1066674.mp4", (rng.random((12, 32, 32, 3)) * 255).astype(np.uint8))
    write_video(tmp_path / "31353427.mp4", (rng.random((12, 32, 32, 3)) * 255).astype(np.uint8))
    meta = tmp_path / "meta" / "results_2M_val.csv"
    meta.parent.mkdir()
    meta.write_text(
        "videoid,contentUrl,duration,page_dir,name\n"
        '31353427,http://x/1.mp4,PT00H00M01S,000001_000050,"Fireworks over the bay"\n'
        '1066674,http://x/2.mp4,PT00H00M01S,000001_000050,"Surfer riding a wave"\n'
    )
    # WebVid's own metadata file, kept in another folder: files resolve against the video folder.
    ds = FolderVideoDataset(tmp_path, captions=meta, num_frames=4, size=32)
    assert [e.caption for e in ds.entries] == ["Fireworks over the bay", "Surfer riding a wave"]
    assert ds.entries[1].path == tmp_path / "000001_000050" / "1066674.mp4"
    assert ds[1]["video"].shape == (4, 3, 32, 32)


def test_jsonl_captions_and_gif(tmp_path):
    gif = Path(skimage.__file__).parent / "data" / "no_time_for_that_tiny.gif"
    (tmp_path / "anim.gif").write_bytes(gif.read_bytes())
    (tmp_path / "captions.jsonl").write_text(json.dumps({"path": "anim.gif", "caption": "a person shrugging"}) + "\n")
    ds = FolderVideoDataset(tmp_path, num_frames=6, size=12, fps=8.0)
    item = ds[0]
    assert item["video"].shape == (6, 3, 12, 12) and item["caption"] == "a person shrugging"
    assert not torch.equal(item["video"][0], item["video"][-1])  # really a moving clip


def test_frames_sampled_at_target_fps_and_short_clips_padded(tmp_path, write_video, ramp_frames):
    write_video(tmp_path / "ramp.mp4", ramp_frames(24), fps=24)  # frame k has brightness 10 + 10 k
    write_video(tmp_path / "short.mp4", ramp_frames(12), fps=24)
    (tmp_path / "captions.csv").write_text("file,caption\nramp.mp4,ramp\nshort.mp4,short\n")
    ds = FolderVideoDataset(tmp_path, num_frames=4, size=16, fps=8.0, seed=3)
    levels = ((ds[0]["video"][:, 0].mean(dim=(1, 2)) + 1) * 127.5).numpy()
    # 8 fps out of 24 fps: every third source frame, i.e. 30 levels apart.
    assert np.allclose(np.diff(levels), 30.0, atol=4.0)
    assert torch.equal(ds[0]["video"], ds[0]["video"])  # same (seed, index), same clip
    long = FolderVideoDataset(tmp_path, num_frames=8, size=16, fps=8.0)
    short = ((long[1]["video"][:, 0].mean(dim=(1, 2)) + 1) * 127.5).numpy()
    # 0.5 s of video for a 0.875 s segment: frames 0, 3, 6, 9, then the last one (11) repeated.
    assert np.allclose(short, 10 + 10 * np.array([0, 3, 6, 9, 11, 11, 11, 11]), atol=4.0)


def test_missing_files_are_skipped(video_folder):
    (video_folder / "captions.csv").write_text("file,caption\nclip0.mp4,a\ngone.mp4,b\n")
    ds = FolderVideoDataset(video_folder)
    assert len(ds) == 1 and ds.skipped == ["gone.mp4"]


def test_missing_folder_or_caption_file(tmp_path):
    with pytest.raises(MobilevidError, match="does not exist"):
        FolderVideoDataset(tmp_path / "nope")
    with pytest.raises(MobilevidError, match="no caption file"):
        FolderVideoDataset(tmp_path)
