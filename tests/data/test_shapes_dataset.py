import pytest
import torch
from torch.utils.data import DataLoader

from mobilevid.data import ShapesDataset, collate
from mobilevid.data.shapes import COLORS, MOTIONS, PALETTE, SHAPES, heldout_prompts
from mobilevid.errors import MobilevidError


def test_item_format_and_caption():
    item = ShapesDataset(num_frames=16, size=64)[3]
    video, labels = item["video"], item["labels"]
    assert video.shape == (16, 3, 64, 64) and video.dtype == torch.float32
    assert video.min() >= -1.0 and video.max() <= 1.0
    assert set(labels) == {"color", "shape", "motion"}
    assert item["caption"].startswith(f"a {labels['color']} {labels['shape']} ")


def test_same_index_same_clip_and_seed_changes_it():
    a, b = ShapesDataset(seed=0), ShapesDataset(seed=0)
    assert torch.equal(a[7]["video"], b[7]["video"]) and a[7]["caption"] == b[7]["caption"]
    assert not torch.equal(a[7]["video"], ShapesDataset(seed=1)[7]["video"])
    assert a.labels_at(7) == a[7]["labels"]


def test_heldout_combinations_never_in_train():
    heldout = {tuple(c) for c in ShapesDataset.heldout_combos()}
    assert 0.10 <= len(heldout) / len(ShapesDataset.all_combos()) <= 0.20
    train = ShapesDataset("train", length=500)
    seen = {(lab["color"], lab["shape"], lab["motion"]) for lab in map(train.labels_at, range(500))}
    assert not seen & heldout
    # Each colour, shape and motion alone is still trained on.
    for i, values in enumerate((COLORS, SHAPES, MOTIONS)):
        assert {combo[i] for combo in seen} == set(values)
    held = ShapesDataset("heldout", length=60)
    assert all((lab["color"], lab["shape"], lab["motion"]) in heldout for lab in map(held.labels_at, range(60)))


def test_shape_colour_is_rendered():
    item = ShapesDataset("heldout")[0]
    video = (item["video"] + 1) / 2
    # The brightest-saturation pixels carry the labelled palette colour (within jitter and blending).
    frame = video[0].permute(1, 2, 0).reshape(-1, 3)
    target = torch.tensor(PALETTE[item["labels"]["color"]])
    assert (frame - target).norm(dim=1).min() < 0.15


def test_heldout_prompts_cycle():
    prompts = heldout_prompts(40, seed=0)
    combos = ShapesDataset.heldout_combos()
    assert len(prompts) == 40
    assert [tuple(p["labels"].values()) for p in prompts[: len(combos)]] == combos
    assert prompts[0]["caption"] == ShapesDataset.caption(prompts[0]["labels"])
    assert "growing" in ShapesDataset.caption({"color": "blue", "shape": "square", "motion": "grow"})
    assert heldout_prompts(5, seed=3) != heldout_prompts(5, seed=0)


def test_dataloader_batches():
    loader = DataLoader(ShapesDataset(num_frames=8, size=32, length=6), batch_size=3, collate_fn=collate)
    batch = next(iter(loader))
    assert batch["video"].shape == (3, 8, 3, 32, 32)
    assert len(batch["caption"]) == 3 and all(isinstance(c, str) for c in batch["caption"])
    assert len(batch["labels"]) == 3 and batch["is_image"] is False


def test_bad_arguments():
    with pytest.raises(MobilevidError, match="split"):
        ShapesDataset("test")
    with pytest.raises(IndexError):
        ShapesDataset(length=4)[4]
