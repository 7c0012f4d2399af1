"""The gate's arithmetic, and that it fails on a wrong program."""

from collections import OrderedDict

import pytest
import torch

from mobilevid.export.components import Component
from mobilevid.export.parity import THRESHOLDS_DB, ParityError, check_parity, psnr, require


def test_psnr_of_known_noise():
    ref = torch.linspace(-1, 1, 10_000)  # range 2
    noisy = ref + 0.02 * torch.randn(10_000, generator=torch.Generator().manual_seed(0))
    assert psnr(ref, noisy) == pytest.approx(10 * torch.log10(torch.tensor(4 / 0.0004)).item(), abs=0.2)
    assert psnr(ref, ref) == float("inf")
    assert psnr(ref, torch.full_like(ref, float("nan"))) == float("-inf")


def _component():
    lin = torch.nn.Linear(8, 4).eval()
    samples = [OrderedDict(x=torch.randn(2, 8, generator=torch.Generator().manual_seed(i))) for i in range(3)]
    return Component("toy", lin, samples, ("y",))


def test_gate_passes_the_same_program_and_fails_a_perturbed_one():
    comp = _component()
    assert require(check_parity(comp, lambda xs: [comp.module(*xs)], "torch", "none")).passed
    broken = torch.nn.Linear(8, 4).eval()
    broken.load_state_dict(comp.module.state_dict())
    with torch.no_grad():
        broken.weight.add_(0.5 * torch.randn_like(broken.weight))
    result = check_parity(comp, lambda xs: [broken(*xs)], "torch", "none")
    assert not result.passed and result.threshold_db == THRESHOLDS_DB["none"]
    with pytest.raises(ParityError, match="parity gate failed for toy"):
        require(result)


def test_wrong_number_of_outputs_is_an_error():
    comp = _component()
    with pytest.raises(ParityError, match="returns 2 outputs"):
        check_parity(comp, lambda xs: [comp.module(*xs)] * 2, "torch", "none")
