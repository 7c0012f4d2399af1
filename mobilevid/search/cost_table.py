"""The cost table (latency/memory look-up table) of the search: every candidate in every slot, timed alone.

As SnapGen-V measures a table per layer type x resolution on the phone, and Once-for-All keys its
latency table by layer type, shape and options (network latency = the sum of its layers' entries),
each allowed (slot, candidate) is built at its real shape, exported to the chosen runtime and
timed in isolation; so is each spatial unit and the whole backbone (the denoiser without temporal
layers). An arch's predicted latency is ``backbone + sum of its temporal entries``. nn-Meter
warns that runtimes fuse ops across layer boundaries, so a per-layer sum can be off: the table
carries an additive-model check (random archs, predicted against the whole denoiser measured on
the same runtime).

Timing follows HAT's rule: warm-up runs, then ``runs`` timed runs, the fastest and slowest 10 %
dropped, median and p90 of the rest. Memory: weight bytes as the runtime stores them plus the
activation peak (live tensor storage while the unit runs once in torch eager). FLOPs from
torch's flop counter. The JSON schema is in ``search/README.md``.
"""

from __future__ import annotations

import hashlib
import json
import random
import tempfile
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from tqdm.auto import tqdm

import mobilevid
from mobilevid.artifacts import read_json
from mobilevid.config import from_dict, to_dict
from mobilevid.errors import MobilevidError
from mobilevid.search.space import Arch, SearchSpace

SCHEMA = "mobilevid.search.lut"
SCHEMA_VERSION = 1
RUNTIMES = ("executorch", "onnxruntime", "torch", "coreml")
QUANTIZE = {"executorch": ("none", "w8a8"), "onnxruntime": ("none", "w8a8"), "torch": ("none",),
            "coreml": ("none",)}
TRIM = 0.1  # share of runs dropped at each end (HAT keeps the 10-90 % span)
BACKBONE = "backbone"

Runner = Callable[[Sequence[torch.Tensor]], Any]


# -- keys --------------------------------------------------------------------------------------------
def temporal_key(slot: int, candidate: str) -> str:
    return f"temporal/{slot}/{candidate}"


def arch_keys(arch: Arch) -> list[str]:
    """The table entries an arch uses beside the backbone."""
    return [temporal_key(i, c) for i, genes in enumerate(arch) for c in genes]


# -- statistics ----------------------------------------------------------------------------------------
def trimmed_stats(seconds: Sequence[float], trim: float = TRIM) -> dict[str, float]:
    """Median and p90 (ms) of the runs left after dropping ``trim`` of them at each end."""
    ms = np.sort(np.asarray(seconds, dtype=float)) * 1e3
    k = int(len(ms) * trim)
    kept = ms[k:len(ms) - k] if len(ms) - 2 * k > 0 else ms
    return {"median_ms": round(float(np.median(kept)), 5), "p90_ms": round(float(np.percentile(kept, 90)), 5),
            "runs_kept": int(len(kept))}


class LiveTensorBytes(TorchDispatchMode):
    """Peak bytes of tensor storage alive while a module runs (inputs included, weights not).

    Why by hand: torch has no allocator statistics on the CPU; counting every op's output
    storage until the last tensor viewing it is freed gives the activation working set, the
    same number on every machine.
    """

    def __init__(self, inputs: Sequence[torch.Tensor]) -> None:
        super().__init__()
        self.refs: dict[int, int] = {}
        self.sizes: dict[int, int] = {}
        self.current = self.peak = 0
        for t in inputs:
            self._track(t)

    def _release(self, key: int) -> None:
        self.refs[key] -= 1
        if self.refs[key] == 0:
            self.current -= self.sizes.pop(key)
            del self.refs[key]

    def _track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        key = storage.data_ptr()
        if key == 0:
            return
        if key not in self.refs:
            self.refs[key] = 0
            self.sizes[key] = storage.nbytes()
            self.current += self.sizes[key]
            self.peak = max(self.peak, self.current)
        self.refs[key] += 1
        weakref.finalize(t, self._release, key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self._track(t)
        return out


@torch.no_grad()
def activation_peak_bytes(module: nn.Module, inputs: Sequence[torch.Tensor]) -> int:
    inputs = [x.clone() for x in inputs]
    mode = LiveTensorBytes(inputs)
    with mode:
        module(*inputs)
    return int(mode.peak)


@torch.no_grad()
def count_flops(module: nn.Module, inputs: Sequence[torch.Tensor]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        module(*inputs)
    return int(counter.get_total_flops())


def weight_bytes(module: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])


# -- the units timed ----------------------------------------------------------------------------------
class CandidateProbe(nn.Module):
    """One temporal candidate with positional tensor inputs: ``x (B*F, C, H, W)`` [, text, text_bias]."""

    def __init__(self, layer: nn.Module, num_frames: int) -> None:
        super().__init__()
        self.layer = layer
        self.num_frames = num_frames

    def forward(self, x: torch.Tensor, text: torch.Tensor | None = None,
                text_bias: torch.Tensor | None = None) -> torch.Tensor:
        from mobilevid.models.temporal import TemporalContext

        return self.layer(x, TemporalContext(num_frames=self.num_frames, text=text, text_bias=text_bias))


class SpatialUnit(nn.Module):
    """ResNet block(s) and spatial transformer of one slot: ``x, emb[, text, text_bias]``."""

    def __init__(self, resnets: Sequence[nn.Module], attention: nn.Module | None) -> None:
        super().__init__()
        self.resnets = nn.ModuleList(resnets)
        self.attention = attention

    def forward(self, x: torch.Tensor, emb: torch.Tensor, text: torch.Tensor | None = None,
                text_bias: torch.Tensor | None = None) -> torch.Tensor:
        x = self.resnets[0](x, emb)
        if self.attention is not None:
            x = self.attention(x, text, text_bias)
        for resnet in self.resnets[1:]:
            x = resnet(x, emb)
        return x


class Sequential(nn.Module):
    """Modules applied in order to one tensor (resamplers, the output head)."""

    def __init__(self, modules: Sequence[nn.Module]) -> None:
        super().__init__()
        self.parts = nn.ModuleList(modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.parts:
            x = m(x)
        return x


@dataclass
class Unit:
    """One table entry to measure: a module, its input samples (the first is timed) and facts."""

    key: str
    module: nn.Module
    samples: list[OrderedDict[str, torch.Tensor]]
    facts: dict[str, Any]

    @property
    def file_name(self) -> str:
        return self.key.replace("/", "_").replace(".", "_")


def _randomize(module: nn.Module, seed: int) -> nn.Module:
    """Fill zero-initialised tensors (output projections start at zero) so quantizers see real ranges."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if not p.any():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
    return module.eval()


def denoiser_inputs(model_cfg: Any, seed: int = 0, n: int = 1) -> list[OrderedDict[str, torch.Tensor]]:
    """Random denoiser inputs in the export layout (``components.DenoiserExport``) at the model's shapes."""
    den = model_cfg.denoiser
    gen = torch.Generator().manual_seed(seed)
    length = model_cfg.text_max_length
    out = []
    for _ in range(n):
        out.append(OrderedDict(
            sample=torch.randn(1, den.num_frames, den.in_channels, den.latent_height, den.latent_width, generator=gen),
            timestep=torch.tensor([500.0]),
            text_states=torch.randn(1, length, den.cross_attention_dim, generator=gen),
            text_mask=torch.ones(1, length),
            pooled_text=torch.randn(1, den.pooled_text_dim, generator=gen)))
    return out


def denoiser_module(model_cfg: Any, arch: dict[str, Any], seed: int = 0) -> nn.Module:
    """The export wrapper of a denoiser with ``arch`` (random weights: latency does not depend on them)."""
    import dataclasses

    from mobilevid.export.components import DenoiserExport
    from mobilevid.models.video_unet import VideoUNet

    torch.manual_seed(seed)
    unet = VideoUNet(dataclasses.replace(model_cfg.denoiser, arch=arch))
    return _randomize(DenoiserExport(unet, model_cfg.fps), seed)


def _capture_spatial_inputs(wrapper: nn.Module, sample: OrderedDict[str, torch.Tensor]) -> dict[int, tuple]:
    """Run the backbone once; the inputs each resnet and attention module of a unet received, by module id."""
    seen: dict[int, tuple] = {}
    unet = wrapper.denoiser
    from diffusers.models.resnet import ResnetBlock2D

    from mobilevid.models.spatial_transformer import SpatialTransformer

    mods = [m for m in unet.modules() if isinstance(m, ResnetBlock2D | SpatialTransformer)]
    mods += [*unet.downsamplers, *unet.upsamplers, unet.conv_norm_out]
    handles = [m.register_forward_pre_hook(lambda m, args: seen.setdefault(id(m), args)) for m in mods]
    try:
        with torch.no_grad():
            wrapper(*sample.values())
    finally:
        for h in handles:
            h.remove()
    return seen


def _named(values: Sequence[torch.Tensor | None], names: Sequence[str]) -> OrderedDict[str, torch.Tensor]:
    return OrderedDict((n, v.detach().clone().contiguous()) for n, v in zip(names, values, strict=True)
                       if v is not None)


def table_units(model_cfg: Any, space: SearchSpace, calibration: int = 4, seed: int = 0) -> list[Unit]:
    """Every unit the table holds: the backbone, each spatial unit, each allowed (slot, candidate)."""
    from mobilevid.models.temporal import build_candidate

    den = model_cfg.denoiser
    f = den.num_frames
    samples = denoiser_inputs(model_cfg, seed, calibration)
    backbone = denoiser_module(model_cfg, {"slots": {}}, seed)
    units = [Unit(BACKBONE, backbone, samples, {"kind": "backbone"})]

    # Spatial units at their real inputs, captured from the backbone on each calibration sample.
    unet = backbone.denoiser
    seen = [_capture_spatial_inputs(backbone, s) for s in samples]
    slots = space.slots

    def spatial(name: str, resnets: list[nn.Module], attention: nn.Module | None, facts: dict[str, Any]) -> None:
        unit_samples = []
        for captured in seen:
            x, emb = captured[id(resnets[0])][:2]
            text = bias = None
            if attention is not None:
                _, text, bias = captured[id(attention)][:3]
            unit_samples.append(_named([x, emb, text, bias], ["x", "emb", "text", "text_bias"]))
        units.append(Unit(f"spatial/{name}", SpatialUnit(resnets, attention).eval(), unit_samples,
                          {"kind": "spatial", **facts}))

    def single(name: str, modules: list[nn.Module], first: nn.Module) -> None:
        unit_samples = [_named([c[id(first)][0]], ["x"]) for c in seen]
        units.append(Unit(f"spatial/{name}", Sequential(modules).eval(), unit_samples, {"kind": "spatial"}))

    index = 0
    for level, (layers, down) in enumerate(zip(unet.down_blocks, unet.downsamplers, strict=True)):
        for layer in layers:
            s = slots[index].slot
            spatial(s.name, [layer.resnet], layer.attention, {"slot": index, "level": s.level})
            index += 1
        if not isinstance(down, nn.Identity):
            single(f"down.{level}.downsample", [down], down)
    s = slots[index].slot
    spatial("mid", [unet.mid_resnet_1, unet.mid_resnet_2], unet.mid_attention, {"slot": index, "level": s.level})
    index += 1
    for up, (layers, sampler) in enumerate(zip(unet.up_blocks, unet.upsamplers, strict=True)):
        for layer in layers:
            s = slots[index].slot
            spatial(s.name, [layer.resnet], layer.attention, {"slot": index, "level": s.level})
            index += 1
        if not isinstance(sampler, nn.Identity):
            single(f"up.{up}.upsample", [sampler], sampler)
    single("out", [unet.conv_norm_out, unet.conv_act, unet.conv_out], unet.conv_norm_out)

    gen = torch.Generator().manual_seed(seed + 1)
    length = model_cfg.text_max_length
    for choice in slots:
        s = choice.slot
        for cand in choice.candidates:
            torch.manual_seed(seed)
            layer = build_candidate(cand, s.channels, den.norm_num_groups, den.temporal_head_dim,
                                    den.cross_attention_dim, f)
            probe = _randomize(CandidateProbe(layer, f), seed)
            unit_samples = []
            for _ in range(calibration):
                x = torch.randn(f, s.channels, s.height, s.width, generator=gen)
                if cand == "temporal_cross_attention":
                    text = torch.randn(1, den.cross_attention_dim, 1, length, generator=gen)
                    unit_samples.append(_named([x, text, torch.zeros(1, 1, 1, length)], ["x", "text", "text_bias"]))
                else:
                    unit_samples.append(_named([x], ["x"]))
            units.append(Unit(temporal_key(s.index, cand), probe, unit_samples,
                              {"kind": "temporal", "slot": s.index, "slot_name": s.name, "candidate": cand,
                               "level": s.level, "channels": s.channels, "height": s.height, "width": s.width,
                               "frames": f}))
    return units


# -- runtimes ------------------------------------------------------------------------------------------
def _component(unit: Unit) -> Any:
    from mobilevid.export.components import Component

    return Component(unit.file_name, unit.module, unit.samples, ("out",))


def export_unit(unit: Unit, runtime: str, quantize: str, work: Path) -> tuple[Path | None, int]:
    """Export ``unit`` for ``runtime`` with the project's exporters; returns (file, bytes as stored)."""
    if runtime == "torch":
        return None, weight_bytes(unit.module)
    if runtime == "onnxruntime":
        from mobilevid.export.onnx_target import export_onnx

        names = export_onnx(_component(unit), quantize, work)
    elif runtime == "executorch":
        from mobilevid.export.executorch_target import export_executorch

        names, _ = export_executorch(_component(unit), quantize, work)
    else:
        from mobilevid.export.coreml_target import export_coreml

        names = export_coreml(_component(unit), quantize, work)
    path = work / names[0]
    size = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path, int(size)


def load_unit_runner(unit: Unit, runtime: str, path: Path | None, threads: int | None) -> Runner:
    if runtime == "torch":
        module = unit.module

        def run(xs: Sequence[torch.Tensor]) -> Any:
            with torch.no_grad():
                return module(*xs)

        return run
    if runtime == "onnxruntime":
        from mobilevid.export.onnx_target import onnx_runner

        return onnx_runner(path, threads=threads)
    from mobilevid.export.executorch_target import executorch_runner

    return executorch_runner(path)


def time_runner(run: Runner, inputs: Sequence[torch.Tensor], runs: int, warmup: int) -> dict[str, float]:
    """Trimmed wall-clock statistics, and the same of the process CPU time (``cpu_*``).

    On a machine shared with other jobs a one-thread run's wall time includes waiting for the core;
    its CPU time is close to what the run takes on an idle core (``mobilevid/export/timing.py``).
    """
    from mobilevid.export.timing import wall_and_cpu_runs

    wall, cpu = wall_and_cpu_runs(lambda: run(inputs), runs, warmup)
    cpu_stats = trimmed_stats(cpu)
    return {**trimmed_stats(wall), "cpu_median_ms": cpu_stats["median_ms"], "cpu_p90_ms": cpu_stats["p90_ms"]}


def set_threads(threads: int | None) -> None:
    if threads is not None:
        from mobilevid.export.timing import set_threads as set_runtime_threads

        set_runtime_threads(threads)


def unit_facts(unit: Unit) -> dict[str, Any]:
    """What does not depend on the runtime: inputs, FLOPs, fp32 weights, the activation peak."""
    inputs = list(unit.samples[0].values())
    return {**unit.facts,
            "inputs": [{"name": n, "shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")}
                       for n, v in unit.samples[0].items()],
            "flops": count_flops(unit.module, inputs),
            "params": sum(p.numel() for p in unit.module.parameters()),
            "activation_peak_bytes": activation_peak_bytes(unit.module, inputs)}


def measure_unit(unit: Unit, runtime: str, quantize: str = "none", runs: int = 20, warmup: int = 3,
                 threads: int | None = 1, work: Path | None = None) -> dict[str, Any]:
    """One table entry: export ``unit``, time it on ``runtime`` (trimmed median / p90), its memory and FLOPs."""
    facts = unit_facts(unit)
    with tempfile.TemporaryDirectory(prefix="mobilevid-lut-") as tmp:
        folder = Path(work or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        path, stored = export_unit(unit, runtime, quantize, folder)
        run = load_unit_runner(unit, runtime, path, threads)
        stats = time_runner(run, list(unit.samples[0].values()), runs, warmup)
        del run
    return {**facts, **stats, "weight_bytes": stored,
            "peak_memory_bytes": stored + facts["activation_peak_bytes"]}


# -- the table -----------------------------------------------------------------------------------------
def model_config_for(model: str | None, preset: str | None) -> tuple[Any, str]:
    """The ``ModelConfig`` of a model folder (or built-in name) or a preset, and where it came from."""
    from mobilevid.models.presets import ModelConfig, get_preset

    if (model is None) == (preset is None):
        raise MobilevidError("pass exactly one of --model DIR and --preset NAME")
    if preset is not None:
        return get_preset(preset), f"preset {preset}"
    from mobilevid.pipeline import resolve_model_dir

    path = resolve_model_dir(model)
    return from_dict(ModelConfig, read_json(path / "model_index.json")), f"model folder {model}"


def backbone_fingerprint(model_cfg: Any) -> str:
    """A hash of everything but the temporal layers: a table fits any model with the same fingerprint."""
    den = {k: v for k, v in to_dict(model_cfg.denoiser).items() if k != "arch"}
    blob = json.dumps({"denoiser": den, "text_max_length": model_cfg.text_max_length}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _device() -> dict[str, Any]:
    from mobilevid.export.device_json import machine

    return machine()


def check_runtime(runtime: str, quantize: str) -> None:
    if runtime not in RUNTIMES:
        raise MobilevidError(f"unknown runtime {runtime!r} (valid: {', '.join(RUNTIMES)})")
    if quantize not in QUANTIZE[runtime]:
        raise MobilevidError(f"--quantize {quantize} is not available on {runtime} (valid: "
                             f"{', '.join(QUANTIZE[runtime])})")


def build_table(model_cfg: Any, source: str, runtime: str, quantize: str = "none", runs: int = 20, warmup: int = 3,
                threads: int | None = 1, check_archs: int = 3, seed: int = 0, space: SearchSpace | None = None,
                device_json: str | Path | None = None, probe_dir: Path | None = None,
                log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure the table (or read a device's measurement of it); see the schema in search/README.md.

    ``runtime="coreml"`` converts every unit into ``probe_dir`` (a probe bundle the demo app
    times) and leaves the timings empty; ``device_json`` fills them from what a device measured.
    """
    check_runtime(runtime, quantize)
    if runs < 1 or warmup < 0:
        raise MobilevidError(f"--runs must be >= 1 and --warmup >= 0, got {runs} and {warmup}")
    if check_archs < 0:
        raise MobilevidError(f"--check-archs must be 0 or more, got {check_archs}")
    say = log or (lambda _m: None)
    device = load_device_table(device_json) if device_json is not None else None
    space = space or SearchSpace(model_cfg.denoiser)
    set_threads(threads)
    units = table_units(model_cfg, space, seed=seed)
    entries: dict[str, dict[str, Any]] = {}
    measure_here = device is None and runtime != "coreml"
    probe: list[dict[str, Any]] = []
    bar = tqdm(units, desc=f"cost table ({runtime})", dynamic_ncols=True)
    for unit in bar:
        bar.set_postfix_str(unit.key)
        if measure_here:
            entries[unit.key] = measure_unit(unit, runtime, quantize, runs, warmup, threads)
            continue
        entry = {**unit_facts(unit), "weight_bytes": weight_bytes(unit.module)}
        if device is not None:
            measured = device["entries"].get(unit.key)
            if measured is None:
                raise MobilevidError(f"{device_json}: no entry '{unit.key}' (the device must time every probe)")
            entry.update({k: measured[k] for k in ("median_ms", "p90_ms", "runs_kept", "weight_bytes",
                                                   "peak_memory_bytes") if k in measured})
            entry.setdefault("peak_memory_bytes", entry["weight_bytes"] + entry["activation_peak_bytes"])
        else:
            assert probe_dir is not None
            path, stored = export_unit(unit, "coreml", quantize, probe_dir)
            probe.append({"key": unit.key, "file": path.name, "inputs": entry["inputs"]})
            entry.update({"median_ms": None, "p90_ms": None, "weight_bytes": stored,
                          "peak_memory_bytes": stored + entry["activation_peak_bytes"]})
        entries[unit.key] = entry
    bar.close()
    backbone = entries.pop(BACKBONE)
    table = {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "created_by": f"mobilevid {mobilevid.__version__}",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "device": (device or {}).get("device") or _device(),
        "runtime": (device or {}).get("runtime", runtime), "quantize": quantize, "threads": threads,
        "measured": measure_here or device is not None,
        "timing": {"warmup": warmup, "runs": runs, "trim": TRIM,
                   "rule": "median and p90 of the runs left after dropping the fastest and slowest 10 %"},
        "model": {"source": source, "preset": model_cfg.preset, "fingerprint": backbone_fingerprint(model_cfg),
                  "num_frames": model_cfg.denoiser.num_frames,
                  "latent": [model_cfg.denoiser.in_channels, model_cfg.denoiser.latent_height,
                             model_cfg.denoiser.latent_width],
                  "text_max_length": model_cfg.text_max_length, "denoiser": to_dict(model_cfg.denoiser)},
        "space": space.describe(),
        "backbone": backbone,
        "entries": entries,
    }
    if table["measured"]:
        spatial = sum(e["median_ms"] for e in entries.values() if e["kind"] == "spatial")
        table["spatial_sum_ms"] = round(spatial, 5)
    if probe:
        from mobilevid.artifacts import write_json

        write_json(probe_dir / "probe.json", {"schema": "mobilevid.search.lut_probe", "schema_version": 1,
                                              "runs": runs, "warmup": warmup, "trim": TRIM, "probes": probe,
                                              "backbone": BACKBONE})
    if measure_here and check_archs:
        say(f"additive-model check: {check_archs} random archs and the largest, whole denoiser on {runtime}")
        table["additive_check"] = additive_check(table, model_cfg, space, runtime, quantize, runs, warmup, threads,
                                                 check_archs, seed)
    return table


# -- predictions -------------------------------------------------------------------------------------
def predict(table: dict[str, Any], arch: Arch) -> dict[str, float]:
    """Latency (ms) and memory (MB) of ``arch`` by the table.

    Latency: backbone + the sum of the arch's temporal entries. Memory: all weights (backbone
    and entries) + the largest activation peak among the backbone and the entries (layers run
    one after another, so their working sets do not add up).
    """
    backbone = table["backbone"]
    keys = arch_keys(arch)
    missing = [k for k in keys if k not in table["entries"]]
    if missing:
        raise MobilevidError(f"the cost table has no entry {missing[0]} (made for another search space?)")
    rows = [table["entries"][k] for k in keys]
    if backbone.get("median_ms") is None or any(r.get("median_ms") is None for r in rows):
        raise MobilevidError("the cost table holds no timings (a Core ML probe table: fill it with --device-json)")
    latency = backbone["median_ms"] + sum(r["median_ms"] for r in rows)
    weights = backbone["weight_bytes"] + sum(r["weight_bytes"] for r in rows)
    peak = max([backbone["activation_peak_bytes"]] + [r["activation_peak_bytes"] for r in rows])
    return {"latency_ms": round(latency, 5), "memory_mb": round((weights + peak) / 2**20, 4)}


def predict_cpu_ms(table: dict[str, Any], arch: Arch) -> float | None:
    """The same sum over the entries' CPU-time medians (None when the table has none, e.g. a device's)."""
    rows = [table["backbone"]] + [table["entries"][k] for k in arch_keys(arch)]
    if any(r.get("cpu_median_ms") is None for r in rows):
        return None
    return round(sum(r["cpu_median_ms"] for r in rows), 5)


def additive_check(table: dict[str, Any], model_cfg: Any, space: SearchSpace, runtime: str, quantize: str,
                   runs: int, warmup: int, threads: int | None, n: int, seed: int) -> dict[str, Any]:
    """Predicted against measured whole-denoiser latency and memory for ``n`` random archs and the largest."""
    rng = random.Random(seed)
    archs = [("largest", space.largest())] + [(f"random-{i}", space.sample(rng)) for i in range(n)]
    rows = []
    samples = denoiser_inputs(model_cfg, seed, 4)
    for name, arch in tqdm(archs, desc="additive check", dynamic_ncols=True):
        module = denoiser_module(model_cfg, space.to_spec(arch), seed)
        unit = Unit(f"check/{name}", module, samples, {"kind": "check"})
        measured = measure_unit(unit, runtime, quantize, runs, warmup, threads)
        pred = predict(table, arch)
        err = (pred["latency_ms"] - measured["median_ms"]) / measured["median_ms"]
        mem = measured["peak_memory_bytes"] / 2**20
        cpu = predict_cpu_ms(table, arch)
        rows.append({"name": name, "arch": space.key(arch), "predicted_ms": pred["latency_ms"],
                     "measured_ms": measured["median_ms"], "error": round(err, 4),
                     "predicted_cpu_ms": cpu, "measured_cpu_ms": measured["cpu_median_ms"],
                     "cpu_error": None if cpu is None else round(cpu / measured["cpu_median_ms"] - 1, 4),
                     "predicted_memory_mb": pred["memory_mb"], "measured_memory_mb": round(mem, 4),
                     "memory_error": round((pred["memory_mb"] - mem) / mem, 4)})
    errors = [abs(r["error"]) for r in rows]
    cpu_errors = [abs(r["cpu_error"]) for r in rows if r["cpu_error"] is not None]
    return {"archs": rows, "mean_abs_error": round(float(np.mean(errors)), 4),
            "mean_abs_cpu_error": round(float(np.mean(cpu_errors)), 4) if cpu_errors else None,
            "max_abs_error": round(float(np.max(errors)), 4)}


def measure_arch(table: dict[str, Any], spec: dict[str, Any], runs: int = 20) -> dict[str, Any]:
    """The whole denoiser with arch ``spec``, exported and timed by the table's own rule, runtime and threads."""
    from types import SimpleNamespace

    from mobilevid.models.unet_config import VideoUNetConfig

    if table["runtime"] not in RUNTIMES or table["runtime"] == "coreml":
        raise MobilevidError(f"the table's runtime {table['runtime']!r} does not run here")
    # Only the denoiser's shapes matter for latency: fps is baked into the export wrapper.
    model_cfg = SimpleNamespace(denoiser=from_dict(VideoUNetConfig, table["model"]["denoiser"]), fps=8.0,
                                text_max_length=table["model"]["text_max_length"])
    set_threads(table.get("threads"))
    unit = Unit("check/arch", denoiser_module(model_cfg, spec), denoiser_inputs(model_cfg, 0, 4), {"kind": "check"})
    return measure_unit(unit, table["runtime"], table.get("quantize") or "none", runs, table["timing"]["warmup"],
                        table.get("threads"))


# -- reading -----------------------------------------------------------------------------------------
def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and bool(np.isfinite(v))


def validate_table(data: Any, source: str = "cost table", need_timings: bool = True) -> dict[str, Any]:
    """Check the keyed schema (search/README.md); one-line errors."""
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or data.get("schema_version") != SCHEMA_VERSION:
        got = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise MobilevidError(f"{source}: not a {SCHEMA} v{SCHEMA_VERSION} table (schema {got!r})")
    entries = data.get("entries")
    if not isinstance(entries, dict) or not isinstance(data.get("backbone"), dict):
        raise MobilevidError(f"{source}: needs 'backbone' and 'entries' objects")
    for key, entry in [(BACKBONE, data["backbone"]), *entries.items()]:
        if not isinstance(entry, dict):
            raise MobilevidError(f"{source}: entry {key} must be an object")
        if need_timings and (not _number(entry.get("median_ms")) or entry["median_ms"] < 0):
            raise MobilevidError(f"{source}: entry {key} needs median_ms, a number >= 0")
    return data


def load_table(path: str | Path) -> dict[str, Any]:
    table = validate_table(read_json(path, "cost table"), str(path))
    for key in ("weight_bytes", "activation_peak_bytes"):
        for name, entry in [(BACKBONE, table["backbone"]), *table["entries"].items()]:
            if not _number(entry.get(key)):
                raise MobilevidError(f"{path}: entry {name} needs {key}, a number")
    return table


def load_device_table(path: str | Path) -> dict[str, Any]:
    """A device's measurement in the table's keyed schema: at least ``median_ms`` for the backbone and every entry.

    The backbone may sit under ``backbone`` or as ``entries.backbone``.
    """
    data = read_json(path, "device measurement")
    if isinstance(data.get("entries"), dict) and "backbone" not in data and BACKBONE in data["entries"]:
        data = {**data, "backbone": data["entries"][BACKBONE],
                "entries": {k: v for k, v in data["entries"].items() if k != BACKBONE}}
    validate_table(data, str(path))
    data["entries"] = {**data["entries"], BACKBONE: data["backbone"]}
    return data


def check_table_fits(table: dict[str, Any], model_cfg: Any, source: str) -> None:
    if table["model"]["fingerprint"] != backbone_fingerprint(model_cfg):
        raise MobilevidError(f"the cost table was measured for another backbone ({table['model']['source']}) "
                             f"than {source}: measure one for this model with `mobilevid search lut`")
