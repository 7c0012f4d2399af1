import pytest
import torch
from torch.utils.data import DataLoader

from mobilevid.data import ImageVideoMix, ShapesDataset, collate
from mobilevid.errors import MobilevidError


def test_batches_are_all_images_or_all_videos():
    mix = ImageVideoMix(ShapesDataset(num_frames=4, size=16, length=48), image_ratio=0.5, batch_size=4, seed=1)
    loader = DataLoader(mix, batch_size=4, shuffle=False, drop_last=True, collate_fn=collate)
    kinds = []
    for step, batch in enumerate(loader):
        assert batch["is_image"] == mix.batch_is_image(step)
        frames = 1 if batch["is_image"] else 4
        assert batch["video"].shape == (4, frames, 3, 16, 16)
        assert len(batch["caption"]) == 4
        kinds.append(batch["is_image"])
    assert True in kinds and False in kinds


def test_image_item_is_a_frame_of_the_clip():
    base = ShapesDataset(num_frames=4, size=16, length=8)
    mix = ImageVideoMix(base, image_ratio=1.0)
    item, clip = mix[2], base[2]["video"]
    assert item["is_image"] is True and item["video"].shape == (1, 3, 16, 16)
    assert any(torch.equal(item["video"][0], frame) for frame in clip)
    assert item["caption"] == base[2]["caption"]
    assert ImageVideoMix(base, image_ratio=0.0)[2]["is_image"] is False


def test_ratio_determinism_and_shuffle():
    mix = ImageVideoMix(ShapesDataset(length=4000), image_ratio=0.25, batch_size=1, seed=0)
    share = sum(mix.batch_is_image(b) for b in range(4000)) / 4000
    assert 0.22 < share < 0.28
    again = ImageVideoMix(ShapesDataset(length=4000), image_ratio=0.25, batch_size=1, seed=0)
    assert [mix.is_image(i) for i in range(50)] == [again.is_image(i) for i in range(50)]
    base = ShapesDataset(num_frames=2, size=16, length=10)
    shuffled = ImageVideoMix(base, image_ratio=0.0, shuffle=True, seed=0)
    captions = sorted(shuffled[i]["caption"] for i in range(10))
    assert captions == sorted(base[i]["caption"] for i in range(10))


def test_collate_refuses_mixed_batches():
    base = ShapesDataset(num_frames=4, size=16, length=4)
    video = {**base[0], "is_image": False}
    image = {**base[1], "video": base[1]["video"][:1], "is_image": True}
    with pytest.raises(ValueError, match="mixes image and video"):
        collate([video, image])
    with pytest.raises(ValueError, match="different shapes"):
        collate([base[0], {**base[1], "video": base[1]["video"][:2]}])


def test_bad_ratio():
    with pytest.raises(MobilevidError, match="image_ratio"):
        ImageVideoMix(ShapesDataset(length=2), image_ratio=1.5)
