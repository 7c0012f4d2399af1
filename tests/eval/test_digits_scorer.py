import torch

from mobilevid.data import DigitsDataset
from mobilevid.data.digits import image_split
from mobilevid.eval import evaluate_digits, score_digits_clip
from mobilevid.eval.digits_scorer import digit_classifier


def test_classifier_is_fitted_on_train_images_only():
    assert digit_classifier().shape_fit_[0] == len(image_split()["train"])
    assert digit_classifier() is digit_classifier()  # fitted once, kept in memory


def test_accuracy_on_real_heldout_clips():
    ds = DigitsDataset("heldout", length=100)
    items = [ds[i] for i in range(100)]
    acc = evaluate_digits([it["video"] for it in items], [it["labels"] for it in items])
    assert acc["digit"] >= 0.85 and acc["motion"] >= 0.95, acc


def test_blank_clip():
    assert score_digits_clip(torch.full((4, 3, 32, 32), -0.9)) == {"digit": -1, "motion": "none"}
