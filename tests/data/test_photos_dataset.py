import numpy as np
import torch
from skimage.registration import phase_cross_correlation
from torch.utils.data import DataLoader

from mobilevid.data import PhotosDataset, collate
from mobilevid.data.photos import MOTIONS, SUBJECT_NAMES, heldout_prompts, photo


def test_every_subject_loads_offline_as_rgb():
    for subject in SUBJECT_NAMES:
        image = photo(subject, 64)
        assert image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) == 160
        assert image.dtype == np.float32 and 0.0 <= image.min() and image.max() <= 1.0


def test_item_format_and_caption():
    ds = PhotosDataset()
    item = ds[0]
    assert item["video"].shape == (16, 3, 64, 64) and item["video"].dtype == torch.float32
    assert item["video"].min() >= -1.0 and item["video"].max() <= 1.0
    assert set(item["labels"]) == {"subject", "motion"}
    assert PhotosDataset.caption({"subject": "cat", "motion": "zoom-in"}) == "zoom into the cat"
    assert PhotosDataset.caption({"subject": "coffee", "motion": "pan-left"}) == "pan left across the coffee cup"
    assert PhotosDataset.caption({"subject": "astronaut", "motion": "zoom-out"}) == "zoom out from the astronaut"


def _content_shift(video: torch.Tensor) -> np.ndarray:
    """(dy, dx) displacement of the content from frame 0 to frame 1."""
    a, b = (video[0].mean(0).numpy(), video[1].mean(0).numpy())
    # phase_cross_correlation gives the shift that registers ``moving`` onto ``reference``.
    return -phase_cross_correlation(a, b, upsample_factor=10)[0]


def test_pan_sign_convention():
    ds = PhotosDataset(length=200)
    found = {}
    for i in range(200):
        motion = ds.labels_at(i)["motion"]
        if motion.startswith("pan-") and motion not in found:
            found[motion] = _content_shift(ds[i]["video"])
        if len(found) == 4:
            break
    # The camera pans left: the content moves right (+x), and so on.
    assert found["pan-left"][1] > 1.0 and found["pan-right"][1] < -1.0
    assert found["pan-up"][0] > 1.0 and found["pan-down"][0] < -1.0


def test_heldout_combinations_never_in_train():
    heldout = set(PhotosDataset.heldout_combos())
    assert {m for _, m in heldout} == set(MOTIONS)
    train = PhotosDataset(length=500)
    seen = {(lab["subject"], lab["motion"]) for lab in map(train.labels_at, range(500))}
    assert not seen & heldout
    assert {s for s, _ in seen} == set(SUBJECT_NAMES) and {m for _, m in seen} == set(MOTIONS)
    assert [tuple(p["labels"].values()) for p in heldout_prompts(len(heldout))] == PhotosDataset.heldout_combos()


def test_dataloader_batches():
    loader = DataLoader(PhotosDataset("heldout", num_frames=4, size=32, length=4), batch_size=4, collate_fn=collate)
    batch = next(iter(loader))
    assert batch["video"].shape == (4, 4, 3, 32, 32) and len(batch["caption"]) == 4
