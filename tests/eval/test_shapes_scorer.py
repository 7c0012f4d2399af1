import torch
import torchvision.transforms.functional as TF

from mobilevid.data import ShapesDataset
from mobilevid.eval import evaluate_shapes, score_shapes_clip
from mobilevid.eval.shapes_scorer import motion_from_trajectory


def _heldout(n):
    ds = ShapesDataset("heldout", length=n)
    items = [ds[i] for i in range(n)]
    return torch.stack([it["video"] for it in items]), [it["labels"] for it in items]


def test_accuracy_on_real_heldout_clips():
    # The scorer must read the generator's own clips right before it can judge a model's.
    videos, labels = _heldout(100)
    acc = evaluate_shapes(videos, labels)
    assert acc["color"] >= 0.95 and acc["shape"] >= 0.95 and acc["motion"] >= 0.95, acc


def test_robust_to_blur_and_noise():
    videos, labels = _heldout(40)
    noisy = TF.gaussian_blur(videos.flatten(0, 1), 7, 1.0).view_as(videos)
    noisy = (noisy + 0.05 * torch.randn(videos.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    acc = evaluate_shapes(noisy, labels)
    assert min(acc.values()) >= 0.9, acc


def test_empty_clip_scores_none():
    assert score_shapes_clip(torch.full((8, 3, 32, 32), -0.8)) == {"color": "none", "shape": "none", "motion": "none"}


def test_trajectory_directions():
    t = torch.arange(8.0).numpy()
    still = torch.full((8,), 20.0).numpy()
    assert motion_from_trajectory(torch.stack([torch.tensor(still), torch.tensor(60 - 4 * t)], 1).numpy(), 64) == "up"
    right_down = torch.stack([torch.tensor(4 * t), torch.tensor(4 * t)], 1).numpy()
    assert motion_from_trajectory(right_down, 64) == "down-right"
    assert motion_from_trajectory(torch.stack([torch.tensor(still)] * 2, 1).numpy(), 64) == "still"
