"""Distillation: discriminator gradients, end-to-end run with kill + resume, student scheduler config."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from mobilevid.distillation.discriminator import Discriminator
from mobilevid.distillation.distill import (
    _warm_start,
    euler_per_frame,
    own_input,
    pseudo_huber,
    staircase_levels,
    student_sigmas,
)
from mobilevid.distillation.distill_config import DistillConfig
from mobilevid.errors import MobilevidError
from mobilevid.models.presets import get_preset
from mobilevid.models.video_unet import VideoUNet
from mobilevid.pipeline import Pipeline

FAST = ["--set", "batch_size=1", "--set", "teacher_steps=2", "--set", "log_every=1", "--data", "shapes"]


def test_heads_get_gradients_and_teacher_encoder_does_not_change():
    cfg = get_preset("tiny").denoiser
    cfg.num_frames = 4
    teacher = VideoUNet(cfg)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    disc = Discriminator(teacher, temporal_heads=True)
    opt = torch.optim.AdamW(disc.heads_parameters(), lr=1e-2)
    x = torch.randn(2, 4, 4, 16, 16, requires_grad=True)
    logits = disc(x, torch.tensor([300.0, 700.0]), torch.randn(2, 8, 384), torch.ones(2, 8), torch.randn(2, 384))
    assert logits.shape == (2, 8)  # one logit per head: 4 levels (3 down + mid) x spatial and temporal
    logits.sum().backward()
    heads = [p for p in disc.heads_parameters()]
    assert all(p.grad is not None for p in heads) and sum(float(p.grad.abs().sum()) for p in heads) > 0
    assert all(p.grad is None for p in teacher.parameters())
    assert x.grad is not None and float(x.grad.abs().sum()) > 0  # the student gets a signal through the frozen encoder
    opt.step()
    for k, v in teacher.state_dict().items():
        assert torch.equal(v, before[k]), k
    names = {n.split(".")[0] for n, _ in disc.named_parameters() if not n.startswith("teacher.")}
    assert names == {"cond", "spatial_heads", "temporal_heads"}
    assert Discriminator(teacher, temporal_heads=False).temporal_heads is None


def test_student_sigmas_and_pseudo_huber():
    assert student_sigmas(DistillConfig(student_steps=4)) == [1.0, 0.75, 0.5, 0.25]
    # A teacher with a shifted schedule (SD3 shift 3) hands the student the same shift.
    assert student_sigmas(DistillConfig(student_steps=4), shift=3.0) == [1.0, 0.9, 0.75, 0.5]
    with pytest.raises(MobilevidError):
        student_sigmas(DistillConfig(student_steps=2, student_sigmas=[0.2, 0.9]))
    a = torch.zeros(2, 3, 4)
    assert float(pseudo_huber(a, a)) == 0.0 and float(pseudo_huber(a, a + 1)) > 0


def _cmd(teacher, out, *extra):
    return [sys.executable, "-m", "mobilevid.cli.main", "distill", "--teacher", str(teacher), "--output", str(out),
            *FAST, *extra]


@pytest.mark.slow
def test_distill_runs_end_to_end_and_resumes_after_kill(tiny_model_dir, tmp_path):
    out = tmp_path / "d"
    # backward_simulation=1: every iteration below the first level also runs the student's own steps;
    # per_block_levels=0.5: half the iterations put the frames at FIFO's staircase instead.
    args = ["--max-steps", "6", "--set", "checkpoint_every=2", "--set", "backward_simulation=1.0",
            "--set", "per_block_levels=0.5"]
    proc = subprocess.Popen(_cmd(tiny_model_dir, out, *args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpts = out / "stages" / "distill" / "checkpoints"
    deadline = time.time() + 300
    while not (ckpts / "step-0000002").is_dir() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "model").exists() and (ckpts / "step-0000002").is_dir()
    subprocess.run(_cmd(tiny_model_dir, out, *args, "--resume"), check=True, capture_output=True)

    sched = json.loads((out / "model" / "scheduler" / "scheduler_config.json").read_text())
    assert sched["sigmas"] == [1.0, 0.75, 0.5, 0.25]
    assert sched["timesteps"] == [1000.0, 750.0, 500.0, 250.0]
    student = Pipeline.from_pretrained(out / "model")
    assert student.config.sampling.guidance == 1.0
    assert student.config.trained_for.per_frame_times  # FIFO on this student needs no training-free note
    result = student("a red circle moving right")
    assert result.model_evaluations == 4 and result.frames.shape == (1, 4, 3, 64, 64)
    teacher = load_file(str(tiny_model_dir / "denoiser" / "model.safetensors"))
    trained = load_file(str(out / "model" / "denoiser" / "model.safetensors"))
    assert any(not torch.equal(teacher[k], trained[k]) for k in teacher)  # the student moved away from the teacher

    # Warm start (student_init): an earlier student's weights load into a teacher copy; a teacher is refused.
    fresh = VideoUNet.from_pretrained(tiny_model_dir / "denoiser")
    _warm_start(fresh, str(out / "model"), [1.0, 0.75, 0.5, 0.25])
    assert all(torch.equal(v, trained[k]) for k, v in fresh.state_dict().items())
    with pytest.raises(MobilevidError, match="not a distilled student"):
        _warm_start(fresh, str(tiny_model_dir), [1.0, 0.75, 0.5, 0.25])
    with pytest.raises(MobilevidError, match="samples at"):
        _warm_start(fresh, str(out / "model"), [1.0, 0.5])


def test_own_input_runs_the_students_steps_down_to_the_level():
    noise = torch.randn(2, 3, 4)
    # A velocity of x means a clean estimate of (1 - sigma) x: zero at sigma = 1.
    got = own_input(lambda x, t: x, noise, [1.0, 0.5, 0.25], 1, torch.Generator().manual_seed(7))
    gen = torch.Generator().manual_seed(7)
    eps = torch.stack([torch.randn(3, 4, generator=gen) for _ in range(2)])
    assert torch.allclose(got, 0.5 * eps)  # re-noised with fresh noise, not the starting noise
    got = own_input(lambda x, t: x, noise, [1.0, 0.5, 0.25], 2, torch.Generator().manual_seed(7))
    assert torch.allclose(got, 0.75 * 0.5 * 0.5 * eps + 0.25 * torch.stack(
        [torch.randn(3, 4, generator=gen) for _ in range(2)]))
    assert own_input(lambda x, t: x, noise, [1.0, 0.5], 0, torch.Generator()) is noise


def test_staircase_levels_are_fifos_student_queue():
    from mobilevid.longvideo.fifo import student_geometry

    got = staircase_levels([1.0, 0.75, 0.5, 0.25], 8)
    assert got.tolist() == [0.25, 0.25, 0.5, 0.5, 0.75, 0.75, 1.0, 1.0]
    # The same levels FIFO's student queue gives its window (index 0 = clean, K = top).
    ascending = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])
    assert torch.equal(got, ascending[student_geometry(8, 4).slot_levels()])
    with pytest.raises(MobilevidError, match="4 equal blocks"):
        staircase_levels([1.0, 0.75, 0.5, 0.25], 6)


def test_euler_per_frame_lands_every_frame_on_the_clean_clip():
    # The exact velocity of the straight path through a known clip: Euler follows it exactly from any
    # per-frame start, so every frame must end on the clip whatever its level.
    x0, eps = torch.randn(2, 4, 3, 5, 5), torch.randn(2, 4, 3, 5, 5)
    start = torch.tensor([[0.25, 0.5, 0.75, 1.0], [0.9, 0.6, 0.3, 0.1]])
    x = (1 - start[..., None, None, None]) * x0 + start[..., None, None, None] * eps
    seen = []

    def velocity(z, t):
        seen.append(t.shape)
        return (z - x0) / (t / 1000)[..., None, None, None]

    out = euler_per_frame(velocity, x, start, steps=5, shift=3.0)
    assert torch.allclose(out, x0, atol=1e-5)
    assert seen == [torch.Size([2, 4])] * 5  # one timestep per frame at every step
