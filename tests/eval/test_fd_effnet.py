import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data

from mobilevid.data import PhotosDataset, ShapesDataset
from mobilevid.eval import effnet_features, fd_effnet, frechet_distance, frechet_distance_from_features
from mobilevid.eval.fd_effnet import effnet_lite0, feature_statistics


def test_pretrained_weights_recognise_a_cat():
    # Real ImageNet weights, loaded with weights_only=True, and the right input scaling.
    cat = torch.from_numpy(data.chelsea()).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    x = ((F.interpolate(cat, size=(224, 224), mode="bilinear", antialias=True) + 1) * 127.5 - 127) / 128
    with torch.no_grad():
        top = effnet_lite0()(x).argmax().item()
    assert 281 <= top <= 285  # ImageNet's domestic cats


def test_identical_sets_zero_and_different_sets_positive():
    # Few frames keep this fast on a 2-core CPU: 3 clips x 2 frames per set.
    shapes = torch.stack([ShapesDataset(num_frames=2)[i]["video"] for i in range(3)])
    photos = torch.stack([PhotosDataset(num_frames=2)[i]["video"] for i in range(3)])
    feats = effnet_features(shapes)
    assert feats.shape == (6, 1280)
    clip_feats = effnet_features(list(shapes), pool="clips")
    assert clip_feats.shape == (3, 1280) and np.allclose(clip_feats[0], feats[:2].mean(0), atol=1e-5)
    assert frechet_distance_from_features(feats, feats) == pytest.approx(0.0, abs=1e-6)
    other = effnet_features(photos)
    assert frechet_distance_from_features(feats, other) > 10.0
    assert fd_effnet(shapes[:1], shapes[:1]) == pytest.approx(0.0, abs=1e-6)


def test_fast_formula_equals_the_sqrtm_formula():
    rng = np.random.default_rng(0)
    for n1, n2, dim in [(20, 30, 32), (12, 9, 64), (80, 70, 16)]:
        a, b = rng.standard_normal((n1, dim)), 1.3 * rng.standard_normal((n2, dim)) + 0.2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sqrtm warns on the singular products of few samples
            reference = frechet_distance(*feature_statistics(a), *feature_statistics(b))
        assert frechet_distance_from_features(a, b) == pytest.approx(reference, rel=1e-5)
