"""FLOPs and bytes moved per component call, and the NPU latency ESTIMATE built from them (not a measurement)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


def _flops_and_activation_bytes(module: torch.nn.Module, inputs: Sequence[torch.Tensor]) -> tuple[int, int]:
    """FLOPs of one call, and activation traffic by ``npu_estimate``'s rule (conv / linear outputs in fp16)."""
    from torch.utils.flop_counter import FlopCounterMode

    from mobilevid.export.npu_estimate import FP16_BYTES

    moved = 0

    def hook(_m: torch.nn.Module, _i: Any, out: Any) -> None:
        nonlocal moved
        if isinstance(out, torch.Tensor):
            moved += 2 * out.numel() * FP16_BYTES  # written by its layer, read by the next

    kinds = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear)
    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, kinds)]
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():
            module(*inputs)
    finally:
        for h in handles:
            h.remove()
    return int(counter.get_total_flops()), moved


def npu_estimates(components: dict[str, dict[str, Any]], modules: dict[str, torch.nn.Module] | None,
                  inputs: dict[str, list[torch.Tensor]], model_config: Any | None) -> dict[str, Any]:
    """Fill ``flops``, ``bytes_moved`` and ``npu_estimate_ms`` of each component; returns the estimator's facts.

    Bytes moved per call, as ``npu_estimate`` models them: the component's weights as stored
    (bundle file size) plus every conv / linear output written and read once in fp16. The
    denoiser's FLOPs and activations come from ``npu_estimate`` (meta device); the other
    components' from the torch flop counter and hooks on the source model's modules.
    """
    from mobilevid.export import npu_estimate

    for name, comp in components.items():
        flops = activations = None
        if name == "denoiser" and model_config is not None:
            flops = int(npu_estimate.denoiser_flops(model_config))
            activations = int(npu_estimate.denoiser_activation_bytes(model_config))
        elif modules is not None and name in modules:
            flops, activations = _flops_and_activation_bytes(modules[name], inputs[name])
        comp["flops"] = flops
        comp["bytes_moved"] = None if activations is None else int(comp["bytes"]) + activations
        comp["npu_estimate_ms"] = (None if flops is None else
                                   round(npu_estimate.estimate_npu_seconds(flops, comp["bytes_moved"]) * 1e3, 4))
    return npu_estimate_facts()


def npu_estimate_facts() -> dict[str, Any]:
    from mobilevid.export import npu_estimate

    facts: dict[str, Any] = {"label": "estimate", "module": "mobilevid/export/npu_estimate.py",
                             "method": "roofline from FLOPs and bytes moved; not a measurement"}
    facts["constants"] = {k: v for k, v in vars(npu_estimate).items() if k.isupper() and isinstance(v, int | float)}
    facts["formula"] = "max(flops / (A18_PRO_NPU_OPS x SUSTAINED_EFFICIENCY), bytes_moved / " \
                       "(A18_PRO_DRAM_BYTES_PER_S x BANDWIDTH_EFFICIENCY))"
    return facts
