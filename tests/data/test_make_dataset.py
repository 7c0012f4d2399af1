import pytest

from mobilevid.data import (
    BUILTIN_DATASETS,
    DigitsDataset,
    FolderVideoDataset,
    MixedDataset,
    PhotosDataset,
    ShapesDataset,
    heldout_prompts,
    make_dataset,
)
from mobilevid.errors import MobilevidError


def test_builtin_by_name():
    assert set(BUILTIN_DATASETS) == {"shapes", "digits", "photos"}
    ds = make_dataset("digits", split="heldout", num_frames=8, size=32, length=10, seed=2)
    assert isinstance(ds, DigitsDataset) and len(ds) == 10 and ds.split == "heldout"
    assert ds[0]["video"].shape == (8, 3, 32, 32)
    assert isinstance(make_dataset("photos"), PhotosDataset)


def test_mix_interleaves():
    ds = make_dataset("shapes+digits", num_frames=4, size=32, length=5)
    assert isinstance(ds, MixedDataset) and len(ds) == 10
    assert isinstance(ds.datasets[0], ShapesDataset) and isinstance(ds.datasets[1], DigitsDataset)
    assert "color" in ds[0]["labels"] and "digit" in ds[1]["labels"]
    assert ds[3]["caption"] == ds.datasets[1][1]["caption"]


def test_folder_and_mix_with_folder(video_folder):
    folder = make_dataset(str(video_folder), num_frames=4, size=16, fps=4.0)
    assert isinstance(folder, FolderVideoDataset) and len(folder) == 3 and folder.fps == 4.0
    # length applies to every part: the folder's 3 videos cycle over its 5 items.
    mix = make_dataset(f"shapes+{video_folder}", num_frames=4, size=16, fps=4.0, length=5)
    assert len(mix) == 10 and mix[1]["video"].shape == mix[0]["video"].shape == (4, 3, 16, 16)
    assert mix[1]["labels"] == mix[7]["labels"] == {"file": "clip0.mp4"}


def test_unknown_name_or_option():
    with pytest.raises(MobilevidError, match="shapes, digits, photos"):
        make_dataset("cifar")
    with pytest.raises(MobilevidError, match="unknown option"):
        make_dataset("shapes", colour="red")
    with pytest.raises(MobilevidError, match="split"):
        make_dataset("shapes", split="val")


def test_heldout_prompts_by_name():
    assert len(heldout_prompts("photos", 5)) == 5
    with pytest.raises(MobilevidError):
        heldout_prompts("folder", 1)
