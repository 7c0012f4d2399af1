"""The weight-sharing supernet over the temporal candidates, trained with the sandwich rule.

Every slot holds every candidate the search space allows there; a training step runs several
sub-architectures on the same batch (the largest, the smallest and ``random_subnets`` random
ones: the sandwich rule of BigNAS, Yu et al. 2020, and Once-for-All's progressive shrinking,
Cai et al. 2020) and sums their flow-matching losses. The spatial backbone (and every
conditioning module) stays frozen, as in SnapGen-V's search, so only temporal layers learn.
Temporal layers the teacher already has start from its weights; the others start as identity
(zero-initialised outputs), so every sub-architecture starts as the teacher minus some layers.

Runs on ``mobilevid.training``'s loop: accelerate (``accelerate launch`` for several processes),
atomic checkpoints, exact ``--resume``, TensorBoard, a progress bar. Output folder::

    run.json                 resolved config, command line, versions
    space.json               the search space (candidates, max_per_slot) and the teacher
    supernet/                a model folder whose denoiser is the supernet (largest arch)
    stages/supernet/checkpoints/step-*/
    logs/                    TensorBoard
"""

from __future__ import annotations

import dataclasses
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mobilevid.artifacts import read_json, write_json
from mobilevid.config import Seed, to_dict
from mobilevid.errors import MobilevidError
from mobilevid.models.arch_spec import CANDIDATES, parse_arch
from mobilevid.models.video_unet import VideoUNet
from mobilevid.search.space import Arch, SearchSpace

logger = logging.getLogger("mobilevid.search")

_NOISE, _TIME, _DROP = 1, 2, 3


@dataclass
class SupernetConfig:
    """``mobilevid search supernet``: recipes (YAML/JSON) and ``--set`` override these."""

    data: str = "shapes+digits+photos"
    seed: Seed = 0
    steps: int = 2000
    batch_size: int = 2  # clips per step; every sub-architecture of the sandwich sees the same clips
    lr: float = 3e-4
    warmup_steps: int = 50
    grad_clip: float = 1.0
    random_subnets: int = 2  # sandwich: largest + smallest + this many random sub-architectures per step
    candidates: list[str] = field(default_factory=lambda: list(CANDIDATES))
    max_per_slot: int | None = None  # None: a slot may hold all its allowed candidates
    caption_dropout: float = 0.1  # as in the teacher's training, so guided sampling keeps working
    time_mean: float = 0.0  # logit-normal flow times (SD3), as the teacher's training
    time_std: float = 1.0
    terminal_time_prob: float = 0.0
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    log_every: int = 10


class SuperNetUNet(VideoUNet):
    """A ``VideoUNet`` whose slots hold every candidate; ``active`` picks the sub-architecture that runs.

    ``active`` is an ``Arch`` (one subset per slot) or None (everything runs: the largest arch).
    """

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.slot_candidates = parse_arch(config.arch, config)
        self.active: Arch | None = None

    def _run_slot(self, index: int, x: torch.Tensor, ctx: Any) -> torch.Tensor:
        key = str(index)
        if key not in self.temporal:
            return x
        on = None if self.active is None else self.active[index]
        for name, layer in zip(self.slot_candidates[index], self.temporal[key], strict=True):
            if on is None or name in on:
                x = layer(x, ctx)
        return x


def _temporal_rename(names_from: dict[int, list[str]], names_to: dict[int, list[str]]) -> dict[str, str]:
    """Prefix map ``temporal.S.I.`` -> ``temporal.S.J.`` for candidates both archs hold in slot S."""
    out = {}
    for slot, names in names_from.items():
        for i, name in enumerate(names):
            if name in names_to.get(slot, []):
                out[f"temporal.{slot}.{i}."] = f"temporal.{slot}.{names_to[slot].index(name)}."
    return out


def _move_temporal(tensors: dict[str, torch.Tensor], rename: dict[str, str]) -> dict[str, torch.Tensor]:
    """Non-temporal tensors as they are; temporal ones renamed by ``rename``, the rest dropped."""
    out = {}
    for key, value in tensors.items():
        if not key.startswith("temporal."):
            out[key] = value
            continue
        prefix = ".".join(key.split(".")[:3]) + "."
        if prefix in rename:
            out[rename[prefix] + key[len(prefix):]] = value
    return out


def build_supernet(teacher: VideoUNet, space: SearchSpace, seed: int = 0) -> SuperNetUNet:
    """The supernet of ``space`` over ``teacher``'s backbone, with the teacher's weights where it has them."""
    config = dataclasses.replace(teacher.config, arch=space.to_spec(space.largest(), name="supernet"))
    torch.manual_seed(seed)
    net = SuperNetUNet(config)
    rename = _temporal_rename(parse_arch(teacher.config.arch, teacher.config), net.slot_candidates)
    dropped = [f"{teacher.slots[s].name}:{n}" for s, names in parse_arch(teacher.config.arch, teacher.config).items()
               for n in names if n not in net.slot_candidates.get(s, [])]
    if dropped:
        logger.warning("teacher temporal layers outside the search space are dropped: %s", ", ".join(dropped))
    net.load_state_dict({**net.state_dict(), **_move_temporal(teacher.state_dict(), rename)})
    return net


def extract_subnet(supernet: SuperNetUNet, arch: Arch, space: SearchSpace, name: str = "searched") -> VideoUNet:
    """A plain ``VideoUNet`` holding ``arch`` with the supernet's (inherited) weights."""
    spec = space.to_spec(arch, name=name)
    config = dataclasses.replace(supernet.config, arch=spec)
    sub = VideoUNet(config)
    rename = _temporal_rename(supernet.slot_candidates, parse_arch(spec, config))
    sub.load_state_dict(_move_temporal(supernet.state_dict(), rename))
    return sub


def sandwich_archs(space: SearchSpace, seed: int, step: int, random_subnets: int) -> list[Arch]:
    """The sub-architectures of one step: largest, smallest, then random ones (a pure function of the step)."""
    rng = random.Random(seed * 1_000_003 + step)
    return [space.largest(), space.smallest()] + [space.sample(rng) for _ in range(random_subnets)]


class SandwichStep(nn.Module):
    """One forward that runs every sub-architecture of a step and returns their losses.

    One forward (not one per subnet) so DDP sees one forward per backward.
    """

    def __init__(self, supernet: SuperNetUNet) -> None:
        super().__init__()
        self.supernet = supernet

    def forward(self, x_t: torch.Tensor, timestep: torch.Tensor, states: torch.Tensor, mask: torch.Tensor,
                pooled: torch.Tensor, fps: torch.Tensor, target: torch.Tensor, archs: list[Arch]) -> torch.Tensor:
        losses = []
        try:
            for arch in archs:
                self.supernet.active = arch
                pred = self.supernet(x_t, timestep, states, encoder_attention_mask=mask, pooled_text=pooled, fps=fps)
                losses.append(torch.mean((pred.float() - target.float()) ** 2))
        finally:
            self.supernet.active = None
        return torch.stack(losses)


def space_record(space: SearchSpace, teacher: str) -> dict[str, Any]:
    return {"teacher": teacher, "candidates": sorted({c for s in space.slots for c in s.candidates},
                                                     key=CANDIDATES.index),
            "max_per_slot": space.max_per_slot, **space.describe()}


def load_space(supernet_dir: Path, config: Any) -> SearchSpace:
    rec = read_json(supernet_dir / "space.json", "search space of the supernet")
    return SearchSpace(config, rec["candidates"], rec.get("max_per_slot"))


def train_supernet(cfg: SupernetConfig, teacher: str, output: str | Path, resume: bool = False,
                   argv: list[str] | None = None) -> Path:
    """Train the supernet of ``teacher`` (a model folder or built-in name); returns ``OUT/supernet``."""
    from mobilevid.models.rectified_flow import TIMESTEP_SCALE, add_noise, velocity_target
    from mobilevid.pipeline import Pipeline, resolve_model_dir
    from mobilevid.training.batches import StepBatches, step_generator, training_data
    from mobilevid.training.loop import LoopSettings, run_loop
    from mobilevid.training.run_setup import start_run
    from mobilevid.training.text_cache import TextCache
    from mobilevid.training.train import training_times
    from mobilevid.training.train_config import DenoiserStageConfig

    out = Path(output)
    for name, value, low in (("steps", cfg.steps, 1), ("batch_size", cfg.batch_size, 1),
                             ("random_subnets", cfg.random_subnets, 0), ("checkpoint_every", cfg.checkpoint_every, 1)):
        if value < low:
            raise MobilevidError(f"{name} must be at least {low}, got {value}")
    if out.exists() and not out.is_dir():
        raise MobilevidError(f"{out} is a file, not a run folder: choose another output")
    if out.exists() and any(out.iterdir()) and not resume:
        raise MobilevidError(f"output folder {out} is not empty: pass --resume to continue it, or choose another")
    if resume and (out / "supernet" / "model_index.json").is_file():
        logger.info("supernet already trained: %s", out / "supernet")
        return out / "supernet"
    pipe = Pipeline.from_pretrained(resolve_model_dir(teacher))
    space = SearchSpace(pipe.denoiser.config, cfg.candidates, cfg.max_per_slot)
    if pipe.config.height != pipe.config.width:
        raise MobilevidError("built-in training data is square: the teacher must have height == width")
    acc = start_run(out, "no", cfg.seed, {**to_dict(cfg), "teacher": str(teacher)}, argv, "search_supernet")
    try:
        if acc.is_main_process:
            write_json(out / "space.json", space_record(space, str(teacher)))
        net = build_supernet(pipe.denoiser, space, cfg.seed)
        net.requires_grad_(False)  # the spatial backbone and conditioning stay frozen (SnapGen-V)
        net.temporal.requires_grad_(True)
        model = SandwichStep(net)
        vae = pipe.vae.eval().requires_grad_(False).to(acc.device)
        text = TextCache(pipe.text_encoder)
        data = training_data(cfg.data, pipe.config, cfg.seed)
        batches = StepBatches(data, cfg.batch_size, cfg.seed, 0.0, acc.process_index, acc.num_processes)
        times = DenoiserStageConfig(time_mean=cfg.time_mean, time_std=cfg.time_std,
                                    terminal_time_prob=cfg.terminal_time_prob)
        rank = acc.process_index
        fps_value = float(pipe.config.fps)

        def loss_fn(module: nn.Module, step: int) -> tuple[torch.Tensor, dict[str, float]]:
            batch = batches(step)
            video = batch["video"].to(acc.device)
            b = video.shape[0]
            with torch.no_grad():
                x0 = vae.encode(video).float()
            drop = torch.rand(b, generator=step_generator(cfg.seed, step, rank, _DROP)) < cfg.caption_dropout
            captions = ["" if d else c for c, d in zip(batch["caption"], drop.tolist(), strict=True)]
            states, pooled, mask = (t.to(acc.device) for t in text(captions))
            noise = torch.randn(x0.shape, generator=step_generator(cfg.seed, step, rank, _NOISE)).to(acc.device)
            t = training_times(b, times, cfg.seed, step, rank).to(acc.device)
            fps = torch.full((b,), fps_value, device=acc.device)
            archs = sandwich_archs(space, cfg.seed, step, cfg.random_subnets)
            losses = module(add_noise(x0, noise, t), t * TIMESTEP_SCALE, states, mask, pooled, fps,
                            velocity_target(x0, noise), archs)
            logs = {"loss_largest": float(losses[0].detach()), "loss_smallest": float(losses[1].detach())}
            return losses.sum(), logs

        settings = LoopSettings("supernet", cfg.steps, cfg.lr, cfg.warmup_steps, grad_clip=cfg.grad_clip,
                                checkpoint_every=cfg.checkpoint_every, keep_checkpoints=cfg.keep_checkpoints,
                                log_every=cfg.log_every)
        model, _ = run_loop(acc, model, loss_fn, settings, out / "stages" / "supernet", resume)
        if acc.is_main_process:
            pipe.denoiser = model.supernet.cpu().eval()
            pipe.save_pretrained(out / "supernet", overwrite=resume)  # a resumed run rewrites its own output
            logger.info("wrote %s", out / "supernet")
        acc.wait_for_everyone()
    finally:
        acc.end_training()
    return out / "supernet"


def load_supernet(supernet_dir: str | Path) -> tuple[Any, SuperNetUNet, SearchSpace]:
    """(pipeline, supernet, space) of a ``search supernet`` output folder (or its ``supernet/`` folder)."""
    from mobilevid.pipeline import Pipeline

    root = Path(supernet_dir)
    if (root / "supernet" / "model_index.json").is_file():
        root = root / "supernet"
    if not (root / "model_index.json").is_file():
        raise MobilevidError(f"no trained supernet in {supernet_dir} (run `mobilevid search supernet` first; "
                             "an unfinished run continues with --resume)")
    pipe = Pipeline.from_pretrained(root)
    space = load_space(root.parent, pipe.denoiser.config)
    net = SuperNetUNet(pipe.denoiser.config)
    net.load_state_dict(pipe.denoiser.state_dict())
    pipe.denoiser = net.eval()
    return pipe, net, space
