"""The supernet: starts as the teacher, sub-architectures extract exactly, the backbone stays frozen, exact resume."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from mobilevid.cli.main import main
from mobilevid.models.video_unet import VideoUNet
from mobilevid.search.space import SearchSpace
from mobilevid.search.supernet import build_supernet, extract_subnet, load_supernet, sandwich_archs

CANDIDATES = ["temporal_conv", "temporal_attention", "frame_adaptor"]


def _inputs(cfg, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(1, cfg.num_frames, cfg.in_channels, cfg.latent_height, cfg.latent_width, generator=g),
            torch.tensor([400.0]), torch.randn(1, 8, cfg.cross_attention_dim, generator=g))


def _randomize(params, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in params:
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)


@torch.no_grad()
def test_supernet_starts_as_the_teacher_and_subnets_extract_exactly(tiny_model_dir):
    teacher = VideoUNet.from_pretrained(tiny_model_dir / "denoiser").eval()
    _randomize(teacher.temporal.parameters(), 1)  # trained temporal layers: not identity
    space = SearchSpace(teacher.config, CANDIDATES)
    net = build_supernet(teacher, space).eval()
    x = _inputs(teacher.config)
    assert torch.equal(net(*x), teacher(*x))  # added candidates start as identity
    _randomize(net.temporal.parameters(), 2)
    for arch in [*sandwich_archs(space, 0, 5, 3), space.uniform(["frame_adaptor"])]:
        sub = extract_subnet(net, arch, space).eval()
        net.active = arch
        assert torch.equal(sub(*x), net(*x))
        net.active = None
        assert sum(len(v) for v in sub.temporal.values()) == sum(len(g) for g in arch)


def test_training_moves_only_temporal_layers(supernet_dir, tiny_model_dir):
    teacher = load_file(str(tiny_model_dir / "denoiser" / "model.safetensors"))
    trained = load_file(str(supernet_dir / "supernet" / "denoiser" / "model.safetensors"))
    backbone = [k for k in teacher if not k.startswith("temporal.")]
    assert backbone and all(torch.equal(teacher[k], trained[k]) for k in backbone)
    _, net, space = load_supernet(supernet_dir)
    assert [list(s.candidates) for s in space.slots] == [CANDIDATES] * len(space.slots)
    assert any(not torch.equal(trained[k], teacher.get(k, torch.zeros_like(trained[k])))
               for k in trained if k.startswith("temporal."))


def _cmd(teacher, out, *extra):
    return [sys.executable, "-m", "mobilevid.cli.main", "search", "supernet", "--model", str(teacher), "--data",
            "shapes", "-o", str(out), "--set", "batch_size=1", "--set", "random_subnets=1", "--set", "log_every=1",
            "--set", "candidates=[temporal_conv,frame_adaptor]", "--max-steps", "4", "--checkpoint-every", "2", *extra]


@pytest.mark.slow
def test_sigkill_and_resume_gives_bit_identical_supernet(tiny_model_dir, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    full = tmp_path / "full"
    assert main(_cmd(tiny_model_dir, full)[3:]) == 0  # uninterrupted, in this process (saves a start-up)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(tiny_model_dir, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    ckpts = killed / "stages" / "supernet" / "checkpoints"
    deadline = time.time() + 300
    while not (ckpts / "step-0000002").is_dir() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "supernet").exists(), "the run finished before it could be killed"
    subprocess.run(_cmd(tiny_model_dir, killed, "--resume"), check=True, capture_output=True, env=env)
    a = load_file(str(full / "supernet" / "denoiser" / "model.safetensors"))
    b = load_file(str(killed / "supernet" / "denoiser" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sandwich_holds_largest_smallest_and_random_archs():
    from mobilevid.models.presets import get_preset

    space = SearchSpace(get_preset("tiny").denoiser)
    archs = sandwich_archs(space, 0, 7, 2)
    assert archs[:2] == [space.largest(), space.smallest()] and len(archs) == 4
    assert archs == sandwich_archs(space, 0, 7, 2) and archs[2:] != sandwich_archs(space, 0, 8, 2)[2:]
