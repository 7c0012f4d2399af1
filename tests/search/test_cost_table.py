"""The cost table: coverage of the search space, the trimmed statistics, device read-back, runtimes."""

import json

import pytest
import torch

from mobilevid.errors import MobilevidError
from mobilevid.search.cost_table import (
    activation_peak_bytes,
    build_table,
    measure_unit,
    model_config_for,
    predict,
    table_units,
    temporal_key,
    trimmed_stats,
)
from mobilevid.search.space import SearchSpace


@pytest.fixture(scope="module")
def model_cfg(tiny_model_dir):
    return model_config_for(str(tiny_model_dir), None)[0]


@pytest.fixture(scope="module")
def torch_table(model_cfg):
    return build_table(model_cfg, "test", "torch", runs=2, warmup=0, check_archs=1)


def test_table_covers_every_allowed_slot_and_candidate(model_cfg, torch_table):
    space = SearchSpace(model_cfg.denoiser)
    temporal = {k for k, e in torch_table["entries"].items() if e["kind"] == "temporal"}
    assert temporal == {temporal_key(s, c) for s, c in space.pairs()}
    assert "temporal/0/spatiotemporal_attention" not in temporal  # 16x16 tokens per frame: over max_3d_tokens
    spatial = {e.get("slot") for e in torch_table["entries"].values() if e["kind"] == "spatial"}
    assert set(range(len(space.slots))) <= spatial
    for entry in [torch_table["backbone"], *torch_table["entries"].values()]:
        assert entry["median_ms"] > 0 and entry["p90_ms"] >= entry["median_ms"] and entry["flops"] > 0
        assert entry["cpu_median_ms"] > 0
        assert entry["activation_peak_bytes"] > 0 and entry["peak_memory_bytes"] > entry["weight_bytes"]
    cross = torch_table["entries"]["temporal/3/temporal_cross_attention"]
    assert [i["name"] for i in cross["inputs"]] == ["x", "text", "text_bias"]
    assert cross["inputs"][0]["shape"] == [4, 96, 4, 4]  # (B*F, C, H, W) at the lowest level


def test_prediction_is_backbone_plus_entries_and_is_checked(model_cfg, torch_table):
    space = SearchSpace(model_cfg.denoiser)
    arch = space.largest()
    pred = predict(torch_table, arch)
    total = torch_table["backbone"]["median_ms"] + sum(torch_table["entries"][temporal_key(i, c)]["median_ms"]
                                                       for i, g in enumerate(arch) for c in g)
    assert pred["latency_ms"] == pytest.approx(total, abs=1e-3)
    assert predict(torch_table, space.smallest())["latency_ms"] == torch_table["backbone"]["median_ms"]
    rows = torch_table["additive_check"]["archs"]
    assert [r["name"] for r in rows] == ["largest", "random-0"]
    assert all(r["measured_ms"] > 0 and r["error"] == pytest.approx(r["predicted_ms"] / r["measured_ms"] - 1, abs=1e-3)
               for r in rows)


def test_trimmed_statistics_drop_the_outer_tenth():
    runs = [0.001] * 18 + [1.0, 0.0]  # one huge and one impossible outlier out of 20
    stats = trimmed_stats(runs)
    assert stats == {"median_ms": 1.0, "p90_ms": 1.0, "runs_kept": 16}


def test_activation_peak_counts_live_temporaries():
    class TwoOps(torch.nn.Module):
        def forward(self, x):
            return x * 2 + 1

    x = torch.zeros(2**18)  # 1 MiB
    assert activation_peak_bytes(TwoOps(), [x]) == 3 * 2**20  # input + temporary + output


def test_device_measurement_fills_the_table(model_cfg, torch_table, tmp_path):
    device = {"schema": torch_table["schema"], "schema_version": torch_table["schema_version"],
              "runtime": "coreml", "device": {"name": "iPhone"},
              "backbone": {"median_ms": 7.0},
              "entries": {k: {"median_ms": 0.25} for k in torch_table["entries"]}}
    path = tmp_path / "device.json"
    space = SearchSpace(model_cfg.denoiser, ["temporal_conv", "temporal_attention"])  # fewer units: faster
    device["entries"] = {k: v for k, v in device["entries"].items()
                         if k.startswith("spatial/") or k.endswith(("/temporal_conv", "/temporal_attention"))}
    path.write_text(json.dumps(device))
    table = build_table(model_cfg, "test", "coreml", device_json=path, space=space)
    assert table["runtime"] == "coreml" and table["device"]["name"] == "iPhone" and table["measured"]
    assert table["backbone"]["median_ms"] == 7.0
    assert {e["median_ms"] for e in table["entries"].values()} == {0.25}
    del device["entries"]["temporal/1/temporal_conv"]
    path.write_text(json.dumps(device))
    with pytest.raises(MobilevidError, match="no entry 'temporal/1/temporal_conv'"):
        build_table(model_cfg, "test", "coreml", device_json=path, space=space)


def _one_unit(model_cfg, key):
    units = table_units(model_cfg, SearchSpace(model_cfg.denoiser, ["temporal_conv"]), calibration=2)
    return next(u for u in units if u.key == key)


@pytest.mark.slow
def test_executorch_entry_is_exported_and_timed(model_cfg):
    unit = _one_unit(model_cfg, "temporal/0/temporal_conv")
    entry = measure_unit(unit, "executorch", runs=3, warmup=1)
    assert entry["median_ms"] > 0 and entry["weight_bytes"] > 0
    ref = unit.module(*unit.samples[0].values())
    assert ref.shape == (4, 32, 16, 16)


@pytest.mark.slow
def test_onnxruntime_entry_is_exported_and_timed(model_cfg):
    entry = measure_unit(_one_unit(model_cfg, "temporal/9/temporal_conv"), "onnxruntime", runs=3, warmup=1)
    assert entry["median_ms"] > 0 and entry["weight_bytes"] > 0
