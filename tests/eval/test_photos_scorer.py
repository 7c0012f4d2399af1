import numpy as np
import torch

from mobilevid.data import PhotosDataset
from mobilevid.data.photos import crop_window, photo
from mobilevid.eval import estimate_global_motion, evaluate_photos, score_photos_clip


def test_accuracy_on_real_heldout_clips():
    ds = PhotosDataset("heldout", length=48)  # 6 clips of each of the 8 held-out combinations
    items = [ds[i] for i in range(48)]
    acc = evaluate_photos([it["video"] for it in items], [it["labels"] for it in items])
    assert acc["motion"] >= 0.9, acc


def _clip(windows):
    image = photo("coffee", 64)
    frames = np.stack([crop_window(image, x, y, side, 64) for x, y, side in windows])
    return torch.from_numpy(frames).permute(0, 3, 1, 2) * 2 - 1


def test_sign_convention_and_magnitudes():
    # The window moves right by 1.5 px per frame at scale 1: the content moves left, the camera pans right.
    right = _clip([(40 + 1.5 * f, 40, 64) for f in range(9)])
    motion = estimate_global_motion(right)
    assert abs(motion["dx"] + 12.0) < 1.0 and abs(motion["dy"]) < 1.0 and abs(motion["log_scale"]) < 0.05
    assert score_photos_clip(right) == {"motion": "pan-right"}
    assert score_photos_clip(_clip([(40, 60 - 2 * f, 64) for f in range(9)])) == {"motion": "pan-up"}
    # The window shrinks around a fixed centre: the content grows, the camera zooms in.
    zoom = _clip([(100 - s / 2, 100 - s / 2, s) for s in 120 * 0.5 ** (np.arange(9) / 8)])
    assert abs(estimate_global_motion(zoom)["log_scale"] - np.log(2)) < 0.1
    assert score_photos_clip(zoom) == {"motion": "zoom-in"}


def test_static_clip():
    assert score_photos_clip(_clip([(40, 40, 64)] * 6)) == {"motion": "static"}
