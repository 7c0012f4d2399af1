"""Long built-in clips for NUWA-XL: strided windows of long trajectories, deterministic, with per-frame captions."""

import numpy as np
import pytest
import torch

from mobilevid.data import collate, make_dataset
from mobilevid.data.digits import DIRECTIONS
from mobilevid.data.long_clips import NUWA_STRIDES, LongClipDataset, dataset_strides
from mobilevid.data.shapes import ShapesDataset
from mobilevid.errors import MobilevidError
from mobilevid.eval.shapes_scorer import score_shapes_clip


def test_items_are_deterministic_by_seed_and_index():
    a, b = LongClipDataset("shapes", seed=3), LongClipDataset("shapes", seed=3)
    for i in (0, 5):
        x, y = a[i], b[i]
        assert torch.equal(x["video"], y["video"]) and x["frame_captions"] == y["frame_captions"]
        assert x["stride"] == y["stride"]
    assert not torch.equal(a[0]["video"], LongClipDataset("shapes", seed=4)[0]["video"])


@pytest.mark.parametrize("base", ["shapes", "digits"])
def test_items_are_strided_windows_with_a_caption_per_frame(base):
    data = LongClipDataset(base, num_frames=16, length=24)
    seen = set()
    for i in range(24):
        item = data[i]
        assert item["video"].shape == (16, 3, 64, 64)
        assert float(item["video"].min()) >= -1 and float(item["video"].max()) <= 1
        stride, start = item["stride"], item["labels"]["start"]
        assert stride in NUWA_STRIDES and start + 15 * stride < data.trajectory_frames
        assert len(item["frame_captions"]) == 16 and item["caption"] == item["frame_captions"][8]
        seen.add(stride)
    assert seen == set(NUWA_STRIDES)


def test_trajectory_moves_as_its_captions_say_and_stays_in_frame():
    data = LongClipDataset("shapes", strides=(1, 15), trajectory_frames=2000)
    rng = np.random.default_rng(0)
    segments = data.schedule(rng)
    extent = (10.0, 54.0, 10.0, 54.0)
    path, names = data.trajectory(rng, segments, extent, (2.0, 1.5))
    assert path.shape == (2000, 2) and len(names) == 2000
    assert (path[:, 0] >= 10).all() and (path[:, 0] <= 54).all() and (path[:, 1] >= 10).all() and (path[:, 1] <= 54).all()
    steps = np.diff(path, axis=0)
    want = np.array([DIRECTIONS[n] for n in names[:-1]])
    assert (np.sign(np.round(steps, 6)) == want).all()  # every frame moves the way its caption names
    assert len(set(names)) >= 4  # it bounces and turns


def test_heldout_combinations_are_never_trained_on():
    data = LongClipDataset("shapes", length=40)
    for i in range(40):
        for caption in data[i]["frame_captions"]:
            words = caption.split()  # "a COLOUR SHAPE moving DIRECTION"
            assert not ShapesDataset.is_heldout((words[1], words[2], words[4])), caption


def test_a_stride_one_window_shows_its_shape_and_colour():
    data = LongClipDataset("shapes", strides=(1,), length=6)
    hits = 0
    for i in range(6):
        item = data[i]
        got = score_shapes_clip(item["video"][:4])
        words = item["frame_captions"][0].split()
        hits += got["color"] == words[1] and got["shape"] == words[2]
    assert hits >= 5  # a segment boundary inside the first 4 frames can make one miss


def test_make_dataset_mixes_long_and_short_clips_and_collates_them():
    data = make_dataset("long-shapes+long-digits+shapes", num_frames=4, size=32)
    assert dataset_strides(data) == [1, 15, 225]
    batch = collate([data[i] for i in range(3)])
    assert batch["video"].shape == (3, 4, 3, 32, 32)
    assert batch["stride"][2] == 1 and batch["frame_captions"][2] == [batch["caption"][2]] * 4
    assert dataset_strides(make_dataset("shapes")) == [1]
    assert LongClipDataset("digits", strides=(1, 7), trajectory_frames=200)[0]["stride"] in (1, 7)


def test_bad_options_are_one_line_errors():
    with pytest.raises(MobilevidError, match="unknown data set"):
        make_dataset("long-photos")
    with pytest.raises(MobilevidError, match="shorter than"):
        LongClipDataset("shapes", strides=(300,), trajectory_frames=1000)
    with pytest.raises(MobilevidError, match="positive"):
        LongClipDataset("shapes", strides=(0,))


def test_an_image_item_keeps_its_frames_caption():
    from mobilevid.data.image_mix import ImageVideoMix

    item = ImageVideoMix(LongClipDataset("digits", length=4), image_ratio=1.0)[0]
    assert item["video"].shape[0] == 1 and len(item["frame_captions"]) == 1
    assert item["caption"] == item["frame_captions"][0]


def test_a_video_folder_gives_frames_at_the_strides_its_videos_are_long_enough_for(tmp_path, write_video, ramp_frames):
    from mobilevid.data import FolderVideoDataset

    root = tmp_path / "long"
    write_video(root / "ramp.mp4", ramp_frames(24, 32), fps=24)  # 1 s; brightness 10 + 10 k at frame k
    (root / "captions.csv").write_text("file,caption\nramp.mp4,a ramp\n")
    data = FolderVideoDataset(root, num_frames=4, size=32, fps=8.0, length=12, strides=(1, 2, 3))
    seen = set()
    for i in range(12):
        item = data[i]
        stride = item["stride"]
        seen.add(stride)
        levels = (item["video"].mean(dim=(1, 2, 3)).numpy() + 1) * 127.5
        # At 8 fps a stride-s frame step is 3 s source frames: 30 s grey levels.
        assert np.allclose(np.diff(levels), 30 * stride, atol=6), (stride, levels)
    assert seen == {1, 2}  # stride 3 spans 1.125 s: longer than the video
    assert "stride" not in FolderVideoDataset(root, num_frames=4, size=32)[0]
    assert dataset_strides(data) == [1, 2, 3]
