"""Any (height, width): fitting clips of any size and aspect ratio, non-square built-in renders."""

import numpy as np
import pytest
import torch

from mobilevid.data import DigitsDataset, FolderVideoDataset, PhotosDataset, ShapesDataset, make_dataset
from mobilevid.data.frame_size import fit_clip, frame_size
from mobilevid.errors import MobilevidError


def _ramp(height: int, width: int) -> torch.Tensor:
    """(1, 1, H, W) frame whose value is its column index: shows which columns a crop kept."""
    return torch.arange(width, dtype=torch.float32).expand(height, width)[None, None].clone()


def test_frame_size_spellings_and_errors():
    assert frame_size(64) == (64, 64) and frame_size((48, 64)) == (48, 64) and frame_size([288, 512]) == (288, 512)
    with pytest.raises(MobilevidError, match="height, width"):
        frame_size((1, 2, 3))
    with pytest.raises(MobilevidError, match="at least 1 pixel"):
        frame_size((0, 64))


def test_fit_clip_modes():
    wide = _ramp(40, 80)  # 2:1 into a 1:1 frame: the crops cut columns only
    center = fit_clip(wide, 20, 20, "center")
    assert center.shape == (1, 1, 20, 20)
    # Halved (40 -> 20 rows), so the centre window starts at column 10 of 40, i.e. source column ~20.
    assert 18 < float(center[0, 0, 0, 0]) < 22
    lefts = {float(fit_clip(wide, 20, 20, "random", np.random.default_rng(s))[0, 0, 0, 0]) for s in range(20)}
    assert len(lefts) > 5 and min(lefts) < 5 and max(lefts) > 35  # windows all over the width
    resized = fit_clip(wide, 20, 20, "resize")
    assert resized.shape == (1, 1, 20, 20) and float(resized[0, 0, 0, 0]) < 2 and float(resized[0, 0, 0, -1]) > 77
    tall = fit_clip(_ramp(90, 30), 48, 64, "center")  # portrait into landscape: scaled to cover, rows cut
    assert tall.shape == (1, 1, 48, 64)
    with pytest.raises(MobilevidError, match="crop mode"):
        fit_clip(wide, 20, 20, "stretch")


@pytest.mark.parametrize("cls", [ShapesDataset, DigitsDataset, PhotosDataset])
def test_builtin_sets_render_any_size_and_squares_as_before(cls):
    square, pair = cls(num_frames=3, size=32, length=4, seed=1), cls(num_frames=3, size=(32, 32), length=4, seed=1)
    assert all(torch.equal(square[i]["video"], pair[i]["video"]) for i in range(4))
    for hw in ((48, 64), (64, 40)):
        item = cls(num_frames=3, size=hw, length=4, seed=1)[2]
        assert item["video"].shape == (3, 3, *hw) and item["video"].min() >= -1 and item["video"].max() <= 1
        assert float(item["video"].std()) > 0.01  # a real render, not a blank frame
    with pytest.raises(MobilevidError, match=">= 16 pixels"):
        cls(size=(12, 64))


def test_shapes_motion_spans_the_wide_axis():
    ds = ShapesDataset(num_frames=5, size=(32, 96), length=200, seed=0)
    index = next(i for i in range(200) if ds.labels_at(i)["motion"] == "right")
    video = ds[index]["video"]
    bright = (video.max(dim=1).values > 0).float()  # (F, H, W) object mask
    xs = [float((bright[f].sum(0) * torch.arange(96)).sum() / bright[f].sum()) for f in (0, -1)]
    assert xs[1] - xs[0] > 0.4 * 96  # half the frame's width, not half its height


def test_folder_fits_clips_of_any_size_aspect_and_rate(tmp_path, write_video):
    rng = np.random.default_rng(0)
    specs = {"wide.mp4": (18, 48, 24), "tall.mp4": (48, 24, 12), "square.mp4": (32, 32, 30)}  # h, w, fps
    for name, (h, w, fps) in specs.items():
        write_video(tmp_path / name, (rng.random((12, h, w, 3)) * 255).astype(np.uint8), fps=fps)
    (tmp_path / "bad.mp4").write_bytes(b"\x00garbage" * 100)
    (tmp_path / "captions.csv").write_text("file,caption\n" + "".join(f"{n},{n[:-4]}\n" for n in [*specs, "bad.mp4"]))
    ds = FolderVideoDataset(tmp_path, num_frames=4, size=(16, 24), fps=8.0, length=9, crop="random", seed=2)
    assert len(ds.entries) == 3 and ds.num_skipped == 1 and len(ds) == 9
    items = [ds[i] for i in range(9)]
    assert all(it["video"].shape == (4, 3, 16, 24) for it in items)
    assert [it["caption"] for it in items[:4]] == ["wide", "tall", "square", "wide"]
    assert not torch.equal(items[1]["video"], items[4]["video"])  # another pass: another segment and crop
    assert torch.equal(ds[4]["video"], items[4]["video"])  # a pure function of (seed, index)
    for crop in ("center", "resize"):
        assert FolderVideoDataset(tmp_path, num_frames=2, size=(20, 12), crop=crop)[1]["video"].shape == (2, 3, 20, 12)
    with pytest.raises(MobilevidError, match="crop mode"):
        FolderVideoDataset(tmp_path, crop="fill")


def test_make_dataset_passes_folder_options_whatever_the_spec_holds(video_folder):
    # A trainer passes fps and crop for any spec: built-in sets take no such option and ignore it.
    shapes = make_dataset("shapes", num_frames=2, size=(16, 32), fps=8.0, crop="random", length=3)
    assert shapes[0]["video"].shape == (2, 3, 16, 32)
    mix = make_dataset(f"digits+{video_folder}", num_frames=2, size=(16, 32), fps=8.0, crop="center", length=3)
    assert len(mix) == 6 and mix[1]["video"].shape == (2, 3, 16, 32) and mix[1]["labels"]["file"] == "clip0.mp4"


def test_folder_scan_is_cached_per_caption_file_version(video_folder, monkeypatch):
    import mobilevid.data.folder as folder

    probed = []
    real_probe = folder.probe_video
    monkeypatch.setattr(folder, "probe_video", lambda path: probed.append(path) or real_probe(path))
    folder.scan_folder.cache_clear()
    FolderVideoDataset(video_folder, num_frames=2, size=16)
    FolderVideoDataset(video_folder, num_frames=4, size=(16, 32), crop="random")  # another stage of the run
    assert len(probed) == 4  # each of the 4 listed files once
    (video_folder / "captions.csv").write_text("file,caption\nclip0.mp4,a red car\n")
    assert len(FolderVideoDataset(video_folder, num_frames=2, size=16)) == 1 and len(probed) == 5
