"""The roofline latency estimate: compute- and memory-bound regimes, defaults and the FLOP helper."""

import pytest

from mobilevid.export.npu_estimate import (
    A18_PRO_DRAM_BYTES_PER_S,
    A18_PRO_NPU_OPS,
    BANDWIDTH_EFFICIENCY,
    SUSTAINED_EFFICIENCY,
    denoiser_activation_bytes,
    denoiser_flops,
    estimate_npu_seconds,
)
from mobilevid.info import denoiser_flops as info_flops
from mobilevid.models.presets import get_preset


def test_compute_bound_and_memory_bound():
    # 1 TFLOP moving 1 MB: compute bound, 1e12 / (100e12 * 0.5) = 20 ms.
    assert estimate_npu_seconds(1e12, 1e6, peak_flops=100e12, efficiency=0.5, bandwidth=10e9,
                                bandwidth_efficiency=1.0) == pytest.approx(0.02)
    # 1 GFLOP moving 1 GB at 10 GB/s x 0.5: memory bound, 0.2 s.
    assert estimate_npu_seconds(1e9, 1e9, peak_flops=100e12, efficiency=0.5, bandwidth=10e9,
                                bandwidth_efficiency=0.5) == pytest.approx(0.2)
    assert estimate_npu_seconds(0, 0) == 0


def test_defaults_are_the_documented_a18_pro_constants():
    flops, moved = 3e12, 1e9
    want = max(flops / (A18_PRO_NPU_OPS * SUSTAINED_EFFICIENCY), moved / (A18_PRO_DRAM_BYTES_PER_S * BANDWIDTH_EFFICIENCY))
    assert estimate_npu_seconds(flops, moved) == pytest.approx(want)
    assert (A18_PRO_NPU_OPS, A18_PRO_DRAM_BYTES_PER_S) == (35e12, 60e9)
    assert 0 < SUSTAINED_EFFICIENCY < 1 and 0 < BANDWIDTH_EFFICIENCY <= 1
    # Monotone: more work never takes less time.
    assert estimate_npu_seconds(2 * flops, moved) > estimate_npu_seconds(flops, moved)
    assert estimate_npu_seconds(1e6, 2e10) > estimate_npu_seconds(1e6, 1e10)


def test_rejects_nonsense():
    with pytest.raises(ValueError):
        estimate_npu_seconds(-1, 0)
    with pytest.raises(ValueError):
        estimate_npu_seconds(1, 1, efficiency=0)


def test_denoiser_flops_reuses_the_info_counter():
    cfg = get_preset("tiny")
    flops = denoiser_flops(cfg)
    assert flops == info_flops(cfg.denoiser) == denoiser_flops(cfg.denoiser)
    assert flops > 0
    moved = denoiser_activation_bytes(cfg)
    # At least the fp16 output of conv_in, written and read: (16 frames x 32 ch x 16 x 16) x 2 B x 2.
    assert moved >= 16 * 32 * 16 * 16 * 2 * 2
