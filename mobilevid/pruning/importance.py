"""Channel importance criteria by name, all torch-pruning's own (``tp.importance``)."""

from __future__ import annotations

import torch_pruning as tp
from torch import nn

from mobilevid.errors import MobilevidError

# GroupNorm carries a learned per-channel scale too: scored with the layers around it.
_SCORED = [nn.modules.conv._ConvNd, nn.Linear, nn.GroupNorm, nn.LayerNorm]

IMPORTANCE = {
    # Group L1 / L2 norm of the weights (Li et al. 2017, "Pruning Filters for Efficient ConvNets"), summed
    # over every layer of the coupled group (DepGraph's group norm).
    "l1": lambda: tp.importance.GroupMagnitudeImportance(p=1, target_types=_SCORED),
    "l2": lambda: tp.importance.GroupMagnitudeImportance(p=2, target_types=_SCORED),
    # First-order Taylor estimate of the loss change (Molchanov et al. 2019); needs a calibration backward.
    "taylor": lambda: tp.importance.GroupTaylorImportance(target_types=_SCORED),
    # Filter pruning via the geometric median (He et al. 2019).
    "fpgm": lambda: tp.importance.FPGMImportance(p=2),
    # A control: channels chosen at random.
    "random": lambda: tp.importance.RandomImportance(),
}
NEEDS_GRADIENTS = {"taylor"}


def make_importance(name: str) -> tp.importance.Importance:
    if name not in IMPORTANCE:
        raise MobilevidError(f"unknown importance '{name}' (valid: {', '.join(IMPORTANCE)})")
    return IMPORTANCE[name]()
