import numpy as np
import torch
from torch.utils.data import DataLoader

from mobilevid.data import DigitsDataset, collate
from mobilevid.data.digits import DIGITS, MOTIONS, digit_images, heldout_prompts, image_split


def test_item_format_and_caption():
    item = DigitsDataset()[0]
    assert item["video"].shape == (16, 3, 64, 64) and item["video"].dtype == torch.float32
    assert item["video"].min() >= -1.0 and item["video"].max() <= 1.0
    digit, motion = item["labels"]["digit"], item["labels"]["motion"]
    assert isinstance(digit, int) and motion in MOTIONS
    assert item["caption"].endswith(f"{digit} moving {motion}")
    # White digit on a dark frame: a few bright pixels, a dark majority.
    grey = (item["video"][0].mean(0) + 1) / 2
    assert grey.max() > 0.8 and grey.median() < 0.15


def test_image_split_is_disjoint_and_stratified():
    split = image_split()
    _, labels = digit_images()
    assert not set(split["train"]) & set(split["heldout"])
    assert len(split["train"]) + len(split["heldout"]) == len(labels)
    assert set(labels[split["heldout"]]) == set(DIGITS)
    held = DigitsDataset("heldout")
    used = np.concatenate(list(held._by_digit.values()))
    assert set(used) <= set(split["heldout"])


def test_heldout_combinations_never_in_train():
    heldout = set(DigitsDataset.heldout_combos())
    assert 0.10 <= len(heldout) / len(DigitsDataset.all_combos()) <= 0.20
    train = DigitsDataset(length=500)
    seen = {(lab["digit"], lab["motion"]) for lab in map(train.labels_at, range(500))}
    assert not seen & heldout
    assert {d for d, _ in seen} == set(DIGITS) and {m for _, m in seen} == set(MOTIONS)


def test_deterministic_and_heldout_prompts():
    assert torch.equal(DigitsDataset()[5]["video"], DigitsDataset()[5]["video"])
    prompts = heldout_prompts(3)
    assert prompts[0] == {"caption": "the digit 0 moving left", "labels": {"digit": 0, "motion": "left"}}


def test_dataloader_batches():
    loader = DataLoader(DigitsDataset(num_frames=4, size=32, length=4), batch_size=2, collate_fn=collate)
    batch = next(iter(loader))
    assert batch["video"].shape == (2, 4, 3, 32, 32) and len(batch["caption"]) == 2
