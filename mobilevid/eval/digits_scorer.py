"""Read the digit and its direction back from a clip of the digits data set.

The digit: a support-vector classifier on the 8x8 images of ``sklearn.datasets.load_digits``
(the scikit-learn digits example: ``SVC(gamma=0.001)``, ~99% on held-out 8x8 digits), fitted
on the TRAIN split images only, lazily once per process and kept in memory (no pickle).
Each frame is mapped back to the 8x8 format of the UCI data (Alpaydin & Kaynak 1998: the
digit fills the box's height, centred, 4x4 blocks counted into 0..16): bounding box of the
bright pixels, square crop, area-averaged down to 8x8, scaled to 0..16. The label is a
majority vote over frames. The direction comes from the intensity centroid's trajectory.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from skimage.transform import resize
from sklearn.svm import SVC

from mobilevid.data.digits import digit_images, image_split
from mobilevid.eval.frames import accuracy, to_numpy_frames
from mobilevid.eval.shapes_scorer import NONE, motion_from_trajectory

BRIGHT_FRACTION = 0.3  # pixels above 30% of the peak contrast belong to the digit's bounding box
MIN_CONTRAST = 0.15  # a frame whose brightest pixel is this close to the background holds no digit


@functools.cache
def digit_classifier() -> SVC:
    """The 8x8 digit classifier, fitted once on the train-split images (``mobilevid.data.digits``)."""
    images, labels = digit_images()
    train = image_split()["train"]
    return SVC(gamma=0.001).fit(images[train].reshape(len(train), -1), labels[train])


def frame_to_digit_image(frame: np.ndarray) -> tuple[np.ndarray, tuple[float, float]] | None:
    """One (H, W, 3) frame in [0, 1] -> (8x8 image in 0..16, intensity centroid (x, y)), or None."""
    grey = frame.mean(axis=-1)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    signal = np.clip(grey - np.median(border), 0.0, None)
    peak = float(np.percentile(signal, 99.5))
    if peak < MIN_CONTRAST:
        return None
    rows, cols = np.nonzero(signal > BRIGHT_FRACTION * peak)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    # A square crop as tall as the digit (the UCI digits fill their box's height), centred.
    side = max(bottom - top, right - left)
    cy, cx = (top + bottom) / 2, (left + right) / 2
    y0, x0 = int(round(cy - side / 2)), int(round(cx - side / 2))
    padded = np.pad(signal, side)
    crop = padded[y0 + side : y0 + 2 * side, x0 + side : x0 + 2 * side]
    # Area averaging stands in for the UCI "count the on pixels of each 4x4 block".
    small = resize(crop, (8, 8), order=1, anti_aliasing=True, mode="constant")
    small = np.clip(16.0 * small / peak, 0.0, 16.0)
    total = signal.sum()
    ys, xs = np.mgrid[0 : signal.shape[0], 0 : signal.shape[1]]
    return small, (float((xs * signal).sum() / total), float((ys * signal).sum() / total))


def score_digits_clip(video: torch.Tensor | np.ndarray) -> dict[str, int | str]:
    """Digit (majority vote over frames; -1 if none found) and direction of a (F,3,H,W) clip in [-1, 1]."""
    frames = to_numpy_frames(video)
    found = [r for r in (frame_to_digit_image(f) for f in frames) if r is not None]
    if not found:
        return {"digit": -1, "motion": NONE}
    votes = digit_classifier().predict(np.stack([small.reshape(-1) for small, _ in found]))
    digit = int(np.bincount(votes, minlength=10).argmax())
    motion = motion_from_trajectory(np.array([c for _, c in found]), frames.shape[1])
    return {"digit": digit, "motion": motion}


def evaluate_digits(videos: list[torch.Tensor] | torch.Tensor, labels: list[dict]) -> dict[str, float]:
    """Accuracy of digit and motion over clips against their prompts' labels."""
    return accuracy([score_digits_clip(v) for v in videos], labels)
