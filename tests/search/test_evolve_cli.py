"""``mobilevid search evolve`` end to end on a tiny supernet: outputs, the trainer reads them, 2 processes = 1."""

import json
import os
import subprocess
import sys

import pytest
from search_helpers import synthetic_table

from mobilevid.cli.main import main
from mobilevid.search.cost_table import model_config_for, predict
from mobilevid.search.space import SearchSpace

BUDGET = "13"


@pytest.fixture(scope="module")
def lut(supernet_dir, tiny_model_dir, tmp_path_factory):
    cfg = model_config_for(str(tiny_model_dir), None)[0]
    space = SearchSpace(cfg.denoiser, ["temporal_conv", "temporal_attention", "frame_adaptor"])
    path = tmp_path_factory.mktemp("lut") / "lut.json"
    path.write_text(json.dumps(synthetic_table(cfg, space)))
    return path


def _args(supernet_dir, lut, out):
    return ["search", "evolve", "--supernet", str(supernet_dir), "--lut", str(lut), "--latency-budget", BUDGET,
            "--population", "6", "--generations", "2", "--proxy-clips", "2", "--proxy-data", "shapes", "-o", str(out)]


@pytest.fixture(scope="module")
def evolved(supernet_dir, lut, tmp_path_factory):
    out = tmp_path_factory.mktemp("evolve") / "one"
    assert main(_args(supernet_dir, lut, out)) == 0
    return out


def _evals(out):
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()
            if json.loads(line)["type"] in ("eval", "generation", "reference")]


def test_evolve_writes_an_arch_within_budget_that_the_trainer_reads(evolved, lut, supernet_dir):
    from mobilevid.training.train import _model_config, load_starting_weights
    from mobilevid.training.train_config import TrainConfig

    table = json.loads(lut.read_text())
    for name in ("arch.json", "log.jsonl", "pareto.png", "pareto.json", "model/model_index.json"):
        assert (evolved / name).is_file(), name
    records = _evals(evolved)
    evals = [r for r in records if r["type"] == "eval"]
    assert evals and all(r["latency_ms"] <= float(BUDGET) for r in evals)
    summary = json.loads((evolved / "summary.json").read_text())
    refs = {r["name"]: r for r in records if r["type"] == "reference"}
    pool = evals + [r for r in refs.values() if r["within_budget"]]  # references within budget compete too
    assert summary["proxy"] == min(r["proxy"] for r in pool) and summary["latency_ms"] <= float(BUDGET)
    assert not refs["all candidates"]["within_budget"] and refs["no temporal layers"]["within_budget"]

    cfg = TrainConfig(init_from=str(evolved / "model"), arch=str(evolved / "arch.json"))
    model_cfg = _model_config(cfg)  # what `mobilevid train --set arch=arch.json` validates
    space = SearchSpace(model_cfg.denoiser, ["temporal_conv", "temporal_attention", "frame_adaptor"])
    arch = space.from_spec(json.loads((evolved / "arch.json").read_text()))
    assert space.key(arch) == summary["arch"]
    assert predict(table, arch)["latency_ms"] == summary["latency_ms"]
    from mobilevid.models.video_unet import VideoUNet

    load_starting_weights(VideoUNet(model_cfg.denoiser), evolved / "model" / "denoiser" / "model.safetensors")


def test_resume_of_a_finished_search_changes_nothing(evolved, supernet_dir, lut):
    before = (evolved / "log.jsonl").read_text()
    assert main([*_args(supernet_dir, lut, evolved), "--resume"]) == 0
    assert (evolved / "log.jsonl").read_text() == before


@pytest.mark.slow
def test_two_processes_give_the_one_process_search(evolved, supernet_dir, lut, tmp_path):
    out = tmp_path / "two"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--cpu", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29541",
           "-m", "mobilevid.cli.main", *_args(supernet_dir, lut, out)]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    assert _evals(out) == _evals(evolved)
    assert (out / "arch.json").read_text() == (evolved / "arch.json").read_text()
