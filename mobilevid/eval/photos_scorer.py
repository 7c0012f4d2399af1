"""Read the camera motion (pan left/right/up/down, zoom in/out) back from a clip.

Global motion estimation: dense optical flow between consecutive frames (scikit-image's
iterative Lucas-Kanade, ``optical_flow_ilk``, coarse to fine), then a least-squares fit of a
translation + zoom model about the frame centre, ``flow(p) = t + a * (p - c)``, the
parametric global-motion model of camera-motion estimation (e.g. Bergen et al., "Hierarchical
model-based motion estimation", ECCV 1992, restricted to pan and zoom). Summed over the clip,
``t`` is the content's displacement in pixels and ``log(1 + a)`` its log zoom.

Sign convention, the same as ``mobilevid.data.photos``: motions name what the CAMERA does.
Content moving right means the camera pans LEFT; content moving down means it pans UP;
content growing means it zooms IN.
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.registration import optical_flow_ilk

from mobilevid.eval.frames import accuracy, to_numpy_frames

ZOOM_LOG_SCALE = 0.25  # |log zoom| over the clip above this is a zoom (the data set zooms by 2x: 0.69)
PAN_FRACTION = 0.1  # content displacement (fraction of the frame side) above this is a pan (data set: 0.5)
FLOW_RADIUS = 5  # Lucas-Kanade window radius in pixels
_MARGIN = 4  # border pixels left out of the fit: flow there sees content entering or leaving


def _fit_pan_zoom(flow_v: np.ndarray, flow_u: np.ndarray) -> tuple[float, float, float]:
    """Least-squares (tx, ty, a) of ``u = tx + a x, v = ty + a y`` with (x, y) about the frame centre."""
    height, width = flow_v.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    inner = np.s_[_MARGIN : height - _MARGIN, _MARGIN : width - _MARGIN]
    x = (xs - (width - 1) / 2)[inner].ravel()
    y = (ys - (height - 1) / 2)[inner].ravel()
    n = x.size
    design = np.zeros((2 * n, 3))
    design[:n, 0], design[:n, 2] = 1.0, x
    design[n:, 1], design[n:, 2] = 1.0, y
    target = np.concatenate([flow_u[inner].ravel(), flow_v[inner].ravel()])
    (tx, ty, a), *_ = np.linalg.lstsq(design, target, rcond=None)
    return float(tx), float(ty), float(a)


def estimate_global_motion(video: torch.Tensor | np.ndarray) -> dict[str, float]:
    """Content motion over a (F, 3, H, W) clip in [-1, 1]: ``dx``, ``dy`` (pixels, y down), ``log_scale``."""
    grey = to_numpy_frames(video).mean(axis=-1)
    dx = dy = log_scale = 0.0
    for reference, moving in zip(grey[:-1], grey[1:], strict=True):
        # (v, u) is the displacement of the content from ``reference`` to ``moving``.
        flow_v, flow_u = optical_flow_ilk(reference, moving, radius=FLOW_RADIUS, num_warp=1)
        tx, ty, a = _fit_pan_zoom(flow_v, flow_u)
        dx, dy = dx + tx, dy + ty
        log_scale += float(np.log1p(max(a, -0.9)))
    return {"dx": dx, "dy": dy, "log_scale": log_scale}


def classify_camera_motion(dx: float, dy: float, log_scale: float, size: int) -> str:
    """Map the content motion to the camera motion label (pan-*, zoom-*, or "static")."""
    pan = np.hypot(dx, dy) / size
    # Compare like with like: half a frame of pan against log 2 of zoom are both "large".
    if abs(log_scale) > ZOOM_LOG_SCALE and abs(log_scale) > pan:
        return "zoom-in" if log_scale > 0 else "zoom-out"
    if pan < PAN_FRACTION:
        return "static"
    if abs(dx) >= abs(dy):
        return "pan-left" if dx > 0 else "pan-right"
    return "pan-up" if dy > 0 else "pan-down"


def score_photos_clip(video: torch.Tensor | np.ndarray) -> dict[str, str]:
    """``{"motion": ...}``: the camera motion of a (F, 3, H, W) clip in [-1, 1]."""
    motion = estimate_global_motion(video)
    size = int(video.shape[-1])
    return {"motion": classify_camera_motion(motion["dx"], motion["dy"], motion["log_scale"], size)}


def evaluate_photos(videos: list[torch.Tensor] | torch.Tensor, labels: list[dict]) -> dict[str, float]:
    """Accuracy of the camera motion over clips against their prompts' labels."""
    return accuracy([score_photos_clip(v) for v in videos], labels)
