"""The parity gate: an exported component must reproduce PyTorch on real inputs.

PSNR against the PyTorch output, with the reference's own range as the peak
(``10 log10(range^2 / MSE)``), over every output of every checked sample; the gate passes
when the worst one clears the threshold of the export's quantization. Float exports must
reach 35 dB. The quantized thresholds are set from measurements on the tiny default model
(export/README.md lists them): low enough for honest int8 rounding, high enough that a
perturbed or mis-wired export (typically < 15 dB) fails.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from mobilevid.errors import MobilevidError

THRESHOLDS_DB: dict[str, float] = {
    "none": 35.0,
    "int8": 25.0,  # weight-only int8 (ONNX Runtime dynamic: activations quantized on the fly)
    "w8a8": 18.0,  # static int8 weights and activations, calibrated
    "int4": 20.0,
    "palettize6": 25.0,
    "palettize4": 18.0,
}


class ParityError(MobilevidError):
    """An export's outputs do not match PyTorch's."""


def psnr(reference: torch.Tensor, output: torch.Tensor) -> float:
    """PSNR in dB of ``output`` against ``reference``, with the reference's range as the peak."""
    reference, output = reference.double(), torch.as_tensor(output).double().reshape(reference.shape)
    mse = float(((reference - output) ** 2).mean())
    peak = float(reference.max() - reference.min()) or 1.0
    if not math.isfinite(mse):
        return float("-inf")
    return float("inf") if mse == 0 else 10.0 * math.log10(peak * peak / mse)


@dataclass
class ParityResult:
    component: str
    runtime: str
    threshold_db: float
    psnr_db: dict[str, float]  # worst PSNR per output over the checked samples
    samples: int

    @property
    def worst_db(self) -> float:
        return min(self.psnr_db.values())

    @property
    def passed(self) -> bool:
        return self.worst_db >= self.threshold_db

    def to_json(self) -> dict:
        def number(v: float) -> float | str:  # JSON has no infinity: an exact match is written "inf"
            return round(v, 2) if math.isfinite(v) else str(v)

        return {"runtime": self.runtime, "threshold_db": self.threshold_db, "samples": self.samples,
                "psnr_db": {k: number(v) for k, v in self.psnr_db.items()}, "worst_db": number(self.worst_db),
                "passed": self.passed}


def check_parity(component, run: Callable[[list[torch.Tensor]], Sequence[torch.Tensor]], runtime: str,
                 quantize: str, samples: int = 3) -> ParityResult:
    """Run ``run`` (the exported program) and PyTorch on ``samples`` real inputs of ``component``."""
    worst = {name: float("inf") for name in component.output_names}
    checked = component.samples[:samples]
    for sample in checked:
        want = component.reference(sample)
        got = list(run(list(sample.values())))
        if len(got) != len(want):
            raise ParityError(f"{component.name}: the export returns {len(got)} outputs, PyTorch {len(want)}")
        for name, w, g in zip(component.output_names, want, got, strict=True):
            worst[name] = min(worst[name], psnr(w, g))
    return ParityResult(component.name, runtime, THRESHOLDS_DB[quantize], worst, len(checked))


def require(result: ParityResult) -> ParityResult:
    """Raise a one-line ``ParityError`` if the gate fails."""
    if not result.passed:
        detail = ", ".join(f"{k} {v:.1f} dB" for k, v in result.psnr_db.items())
        raise ParityError(f"parity gate failed for {result.component} on {result.runtime}: {detail} "
                          f"(needs >= {result.threshold_db} dB)")
    return result
