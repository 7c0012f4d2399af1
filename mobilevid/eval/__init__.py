"""Quality measures that run offline: exact scorers for the built-in sets, VBench flicker, FD-EffNet.

Every function takes clips as float (F, 3, H, W) tensors in [-1, 1], the data sets' format.
"""

from mobilevid.eval.digits_scorer import evaluate_digits, score_digits_clip
from mobilevid.eval.fd_effnet import (
    effnet_features,
    fd_effnet,
    frechet_distance,
    frechet_distance_from_features,
)
from mobilevid.eval.flicker import mean_temporal_flickering, temporal_flickering
from mobilevid.eval.photos_scorer import estimate_global_motion, evaluate_photos, score_photos_clip
from mobilevid.eval.shapes_scorer import evaluate_shapes, score_shapes_clip

SCORERS = {"shapes": score_shapes_clip, "digits": score_digits_clip, "photos": score_photos_clip}
EVALUATORS = {"shapes": evaluate_shapes, "digits": evaluate_digits, "photos": evaluate_photos}

__all__ = [
    "EVALUATORS",
    "SCORERS",
    "effnet_features",
    "estimate_global_motion",
    "evaluate_digits",
    "evaluate_photos",
    "evaluate_shapes",
    "fd_effnet",
    "frechet_distance",
    "frechet_distance_from_features",
    "mean_temporal_flickering",
    "score_digits_clip",
    "score_photos_clip",
    "score_shapes_clip",
    "temporal_flickering",
]
