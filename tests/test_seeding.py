import json

import torch

from mobilevid.seeding import record_run, seed_everything


def test_seed_everything_repeats_numbers():
    seed_everything(3)
    a = torch.randn(4)
    seed_everything(3)
    assert torch.equal(a, torch.randn(4))


def test_record_run_writes_config_command_and_versions(tmp_path):
    record_run(tmp_path, {"lr": 1.0}, argv=["mobilevid", "train", "--seed", "1"])
    data = json.loads((tmp_path / "run.json").read_text())
    assert data["config"] == {"lr": 1.0}
    assert data["command"] == "mobilevid train --seed 1"
    for name in ("torch", "executorch", "coremltools", "diffusers"):
        assert name in data["versions"]
