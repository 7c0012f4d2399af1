"""Training: exact resume after SIGKILL, a 2-process accelerate run, the NaN guard, bad flags."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mobilevid.cli.main import main

# Small and quick: 4 frames, one clip per step, denoiser stage on an untrained VAE.
FAST = ["--preset", "tiny", "--data", "shapes", "--stage", "denoiser", "--set", "num_frames=4",
        "--set", "denoiser.batch_size=1", "--set", "denoiser.warmup_steps=2", "--set", "log_every=1"]


def _cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mobilevid.cli.main", "train", "--output", str(out), *FAST, *extra]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "model" / "denoiser" / "model.safetensors"))


@pytest.mark.slow
def test_sigkill_and_resume_gives_bit_identical_weights(tmp_path):
    steps = ["--max-steps", "8", "--checkpoint-every", "2"]
    full = tmp_path / "full"
    subprocess.run(_cmd(full, *steps), check=True, capture_output=True)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(killed, *steps), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpts = killed / "stages" / "denoiser" / "checkpoints"
    deadline = time.time() + 300
    while not (ckpts / "step-0000002").is_dir() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "model").exists(), "the run finished before it could be killed"
    assert (ckpts / "step-0000002").is_dir()

    subprocess.run(_cmd(killed, *steps, "--resume"), check=True, capture_output=True)
    a, b = _weights(full), _weights(killed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.slow
def test_two_process_accelerate_run_completes(tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29533",
           "-m", "mobilevid.cli.main", "train", "--output", str(out), *FAST, "--max-steps", "2",
           "--checkpoint-every", "1"]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (out / "model" / "model_index.json").is_file()
    assert (out / "stages" / "denoiser" / "checkpoints" / "step-0000002").is_dir()
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["num_processes"] == 2 and run["config"]["backend"] == "gloo"


def test_nan_guard_names_the_step(tmp_path, capsys):
    code = main(["train", "--output", str(tmp_path / "nan"), *FAST, "--max-steps", "3", "--set", "denoiser.lr=1e30",
                 "--set", "denoiser.warmup_steps=0", "--set", "denoiser.grad_clip=0"])
    err = capsys.readouterr().err
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("mobilevid train: error:")]
    assert len(errors) == 1 and "at step" in errors[0] and "Traceback" not in err


def test_bad_flags_are_one_line_errors(tmp_path, capsys):
    assert main(["train", "--output", str(tmp_path / "x"), "--max-steps", "0"]) == 1
    assert "--max-steps must be at least 1" in capsys.readouterr().err
    assert main(["train", "--output", str(tmp_path / "x"), "--data", "nope"]) == 1
    assert "unknown data set" in capsys.readouterr().err
    assert main(["train", "--output", str(tmp_path / "x"), "--set", "denoiser.lrr=1"]) == 1
    assert "unknown config key 'denoiser.lrr'" in capsys.readouterr().err


def test_vae_decoder_stage_keeps_the_encoder_and_moves_the_decoder(tmp_path):
    out = tmp_path / "run"
    base = ["train", "--output", str(out), "--preset", "tiny", "--data", "shapes", "--set", "num_frames=4",
            "--set", "vae.batch_size=1", "--set", "vae.frames=2", "--set", "vae_decoder.batch_size=2",
            "--max-steps", "2"]
    assert main([*base, "--stage", "vae"]) == 0
    before = load_file(str(out / "vae" / "model.safetensors"))
    assert main([*base, "--stage", "vae_decoder", "--resume"]) == 0
    after = load_file(str(out / "vae" / "model.safetensors"))
    assert (out / "vae" / "decoder_finetuned.json").is_file()
    encoder = [k for k in before if ".encoder." in k or "quant_conv" in k and "post_quant" not in k]
    decoder = [k for k in before if ".decoder." in k]
    assert encoder and decoder
    assert all(torch.equal(before[k], after[k]) for k in encoder)
    assert any(not torch.equal(before[k], after[k]) for k in decoder)


def test_bf16_run_on_cpu_saves_float32_weights_and_the_sampling_shift(tmp_path):
    # bf16 autocast (denoiser and the frozen VAE encoder) is the fast path on CPUs with AMX; weights stay fp32.
    # A subprocess: accelerate keeps one precision per process, and other tests here train in-process.
    out = tmp_path / "bf16"
    subprocess.run(_cmd(out, "--max-steps", "2", "--set", "mixed_precision=bf16", "--set", "sample_shift=3"),
                   check=True, capture_output=True)
    sched = json.loads((out / "model" / "scheduler" / "scheduler_config.json").read_text())
    assert sched["shift"] == 3.0
    weights = _weights(out)
    assert all(w.dtype == torch.float32 and torch.isfinite(w).all() for w in weights.values())
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["mixed_precision"] == "bf16"
