"""The device loop: `search lut --runtime coreml` writes a probe bundle, a device's timing of it fills the table."""

import json

import pytest

from mobilevid.cli.main import main
from mobilevid.search.cost_table import load_table, predict
from mobilevid.search.space import SearchSpace


@pytest.mark.slow
def test_probe_bundle_round_trips_through_a_device_json(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "lut_coreml.json"
    argv = ["search", "lut", "--model", str(tiny_model_dir), "--runtime", "coreml", "--candidates", "temporal_conv",
            "-o", str(out)]
    assert main(argv) == 0
    probe_dir = tmp_path / "lut_coreml.coreml-probe"
    probe = json.loads((probe_dir / "probe.json").read_text())
    table = json.loads(out.read_text())
    assert table["probe_bundle"] == probe_dir.name and not table["measured"]
    keys = [p["key"] for p in probe["probes"]]
    assert set(keys) == {"backbone", *table["entries"]}  # one probe per table unit, the backbone included
    for p in probe["probes"]:
        assert (probe_dir / p["file"]).exists() and p["inputs"][0]["shape"]
    assert any(k.startswith("temporal/") for k in keys) and any(k.startswith("spatial/") for k in keys)

    # What the demo app writes after timing each probe: the table's keyed schema, the backbone among the entries.
    device = {"schema": table["schema"], "schema_version": table["schema_version"], "runtime": "coreml",
              "device": {"name": "iPhone 16 Pro (hand-written)"},
              "entries": {k: {"median_ms": 0.5 + i, "p90_ms": 0.6 + i} for i, k in enumerate(keys)}}
    device_json = tmp_path / "iphone.json"
    device_json.write_text(json.dumps(device))
    filled = tmp_path / "lut_iphone.json"
    assert main([*argv[:-2], "--device-json", str(device_json), "-o", str(filled)]) == 0
    got = load_table(filled)
    assert got["measured"] and got["device"]["name"].startswith("iPhone 16 Pro")
    assert got["backbone"]["median_ms"] == device["entries"]["backbone"]["median_ms"]
    for key, entry in got["entries"].items():
        assert entry["median_ms"] == device["entries"][key]["median_ms"]
        assert entry["p90_ms"] == device["entries"][key]["p90_ms"]
    space = SearchSpace(_denoiser(tiny_model_dir), ["temporal_conv"])
    arch = space.largest()
    want = got["backbone"]["median_ms"] + sum(device["entries"][f"temporal/{i}/temporal_conv"]["median_ms"]
                                              for i in range(len(arch)))
    assert predict(got, arch)["latency_ms"] == pytest.approx(want)

    # A device file that misses a probe is refused, naming it.
    del device["entries"][keys[-1]]
    device_json.write_text(json.dumps(device))
    assert main([*argv[:-2], "--device-json", str(device_json), "-o", str(tmp_path / "bad.json")]) == 1
    assert f"no entry '{keys[-1]}'" in capsys.readouterr().err


def _denoiser(model_dir):
    from mobilevid.search.cost_table import model_config_for

    return model_config_for(str(model_dir), None)[0].denoiser
