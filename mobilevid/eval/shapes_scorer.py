"""Read colour, shape and motion back from a clip of the shapes data set (generated or real).

Classical measurement, no learned model: segment the foreground against the background
estimated from the frame border, then
- colour: nearest ``PALETTE`` entry to the mean colour of the shape's interior;
- shape: extent (area / bounding-box area; circle pi/4 ~ 0.785, square 1.0, triangle 0.5),
  the region property of scikit-image's ``regionprops``;
- motion: least-squares slope of the centroid trajectory (direction, in 8 sectors) and of
  the log area (grow / shrink); a small displacement is "still".
It is checked on the generator's own held-out clips (tests/eval/test_shapes_scorer.py).
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.filters import gaussian
from skimage.measure import label, regionprops

from mobilevid.data.shapes import COLORS, PALETTE
from mobilevid.eval.frames import accuracy, to_numpy_frames

FOREGROUND_DISTANCE = 0.25  # RGB distance (in [0,1] units) from the background: textures stay below 0.1
MIN_AREA = 4  # pixels; smaller regions are noise
GROW_LOG_AREA = 0.9  # |log(area_last / area_first)| above this (x2.5) is grow / shrink; the data set has x7
STILL_DISPLACEMENT = 0.15  # fraction of the frame side below which a shape is "still"; moves are >= 0.5
SQUARE_EXTENT, TRIANGLE_EXTENT = 0.89, 0.64  # decision thresholds between 0.5, 0.785 and 1.0
# 8 sectors of 45 degrees, counter-clockwise from "right", with y pointing UP (image rows flipped).
_SECTORS = ("right", "up-right", "up", "up-left", "left", "down-left", "down", "down-right")
NONE = "none"


def motion_from_trajectory(centroids: np.ndarray, size: int, log_areas: np.ndarray | None = None) -> str:
    """Classify a (F, 2) trajectory of (x, y) image coordinates into a direction, grow, shrink or still."""
    if len(centroids) < 2:
        return NONE
    t = np.arange(len(centroids), dtype=np.float64)
    span = t[-1] - t[0] if len(t) > 1 else 1.0
    # Fitted slopes, not first-minus-last: robust to a blurry or missing frame at either end.
    if log_areas is not None:
        d_log_area = np.polyfit(t, log_areas, 1)[0] * span
        if d_log_area > GROW_LOG_AREA:
            return "grow"
        if d_log_area < -GROW_LOG_AREA:
            return "shrink"
    dx = np.polyfit(t, centroids[:, 0], 1)[0] * span
    dy = np.polyfit(t, centroids[:, 1], 1)[0] * span
    if np.hypot(dx, dy) < STILL_DISPLACEMENT * size:
        return "still"
    angle = np.degrees(np.arctan2(-dy, dx)) % 360.0
    return _SECTORS[int(((angle + 22.5) % 360.0) // 45.0)]


def score_shapes_clip(video: torch.Tensor | np.ndarray) -> dict[str, str]:
    """Colour, shape and motion of the one shape in a (F, 3, H, W) clip in [-1, 1] ("none" if no shape)."""
    frames = to_numpy_frames(video)
    size = frames.shape[1]
    colors, centroids, areas, extents = [], [], [], []
    for frame in frames:
        border = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]])
        # Light smoothing so that pixel noise in generated frames does not fray the outline.
        distance = gaussian(np.linalg.norm(frame - np.median(border, axis=0), axis=-1), sigma=0.7)
        regions = regionprops(label(distance > FOREGROUND_DISTANCE))
        if not regions:
            continue
        region = max(regions, key=lambda r: r.area)
        if region.area < MIN_AREA:
            continue
        # Re-segment at half the shape's contrast: the outline of a blurred shape stays where
        # the sharp one was, so extent and area do not depend on the amount of blur.
        peak = np.percentile(distance[region.coords[:, 0], region.coords[:, 1]], 90)
        regions = regionprops(label(distance > max(FOREGROUND_DISTANCE, 0.5 * peak)))
        region = max(regions, key=lambda r: r.area)
        if region.area < MIN_AREA:
            continue
        rows, cols = region.coords[:, 0], region.coords[:, 1]
        # The interior only: anti-aliased edges blend into the background and dull the colour.
        interior = distance[rows, cols] >= 0.7 * distance[rows, cols].max()
        colors.append(frame[rows[interior], cols[interior]].mean(axis=0))
        centroids.append(region.centroid[::-1])  # (row, col) -> (x, y)
        areas.append(region.area)
        extents.append(region.extent)
    if not areas:
        return {"color": NONE, "shape": NONE, "motion": NONE}
    areas_arr = np.asarray(areas, dtype=np.float64)
    mean_color = np.mean(colors, axis=0)
    color = COLORS[int(np.argmin([np.linalg.norm(mean_color - np.array(PALETTE[c])) for c in COLORS]))]
    # Extent is noisy on tiny shapes: judge it on the larger half of the frames.
    extent = float(np.median(np.asarray(extents)[areas_arr >= np.median(areas_arr)]))
    shape = "square" if extent > SQUARE_EXTENT else "triangle" if extent < TRIANGLE_EXTENT else "circle"
    motion = motion_from_trajectory(np.asarray(centroids), size, np.log(areas_arr))
    return {"color": color, "shape": shape, "motion": motion}


def evaluate_shapes(videos: list[torch.Tensor] | torch.Tensor, labels: list[dict]) -> dict[str, float]:
    """Accuracy of colour, shape and motion over clips against their prompts' labels."""
    return accuracy([score_shapes_clip(v) for v in videos], labels)
