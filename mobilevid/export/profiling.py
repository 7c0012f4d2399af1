"""``mobilevid profile``: per-component latency, peak memory and size of an export bundle.

What is measured, on this machine:

- each component's latency (``warmup`` runs, then the median and p90 of ``runs`` runs) on the
  bundle's own input shapes, with random inputs of the manifest's shapes and dtypes (token ids
  drawn below the bundled vocabulary's size, masks all ones, timesteps mid-range);
- the total per video: ``text_encoder + steps x calls_per_step x denoiser + vae_decoder``,
  with ``calls_per_step`` 2 when the sampler's ``guidance_scale`` is not 1 (classifier-free
  guidance: a conditional and an unconditional call), else 1;
- peak resident memory (high-water mark of the process RSS while the component is loaded and
  run once) and size on disk per component;
- a per-block breakdown of the denoiser, measured in **torch eager** (forward hooks on the
  source model), the latency table the architecture search reads;
- an **estimate** of iPhone-class NPU latency from FLOPs and bytes moved
  (``mobilevid/export/npu_estimate.py``): a roofline, not a measurement.

``--runtime torch`` times the PyTorch components of the source model instead of the bundle's files.

JSON schema ``mobilevid.profile`` version 1 (``--json``; also what ``--device-json`` reads, e.g.
written by the Swift app on an iPhone). Fields marked * are required in an imported file::

    {
      "schema": "mobilevid.profile",            *
      "schema_version": 1,                      *
      "created_by": "mobilevid 0.1.0",
      "device": {"name": str, "platform": str, "processor": str, "cpus": int},
      "bundle": str, "target": str, "quantize": str,
      "runtime": "onnxruntime" | "executorch" | "torch" | any string (e.g. "coreml"),
      "runs": int, "warmup": int,
      "threads": int | null,                    intra-op threads asked for (null: runtime defaults)
      "torch_threads": int,
      "components": {                           * at least one
        NAME: {                                 NAME: text_encoder, denoiser, vae_decoder
          "median_ms": float,                   * >= 0
          "p90_ms": float, "min_ms": float,
          "calls_per_video": int,
          "peak_rss_mb": float,                 process RSS high-water mark while loaded and run
          "rss_increase_mb": float,             that peak minus the RSS before loading it
          "bytes": int,                         size on disk (torch runtime: fp32 state dict)
          "inputs": [{"name", "shape", "dtype"}],
          "flops": int | null,                  one call
          "bytes_moved": int | null,            one call: weights on disk + conv/linear outputs (fp16)
          "npu_estimate_ms": float | null       ESTIMATE, see npu_estimate
        }
      },
      "memory_method": str,                     how peak RSS was measured
      "video": {                                null when a component is missing
        "steps": int, "guidance_scale": float, "calls_per_step": int, "denoiser_calls": int,
        "formula": str,
        "total_ms": float,                      from the components' medians
        "npu_estimate_ms": float | null         ESTIMATE
      },
      "denoiser_blocks": {                      null when the source model is not available
        "measured_with": "torch eager",
        "source": str,                          which model the hooks timed
        "total_ms": float,                      median of whole forward calls (hooks on)
        "parts_ms": float,                      sum of the units' medians + the median leftover
        "groups": [{"name", "ms", "share"}],    embed, down.L, mid, up.U, temporal, out, other;
                                                share = ms / parts_ms, so shares sum to 1
                                                (temporal layers in their own group)
        "units": [{"name", "group", "kind", "slot", "slot_name", "candidate", "channels",
                   "tokens_per_frame", "ms", "share"}]
                                                kind: embed | spatial | resample | temporal | out;
                                                one temporal unit per (slot, candidate)
      },
      "npu_estimate": {"label": "estimate", ...}  the estimator's constants and method
    }

Medians are per component over runs. A unit's ms is the median over runs of its hooked time in one
forward; ``other`` (reshapes, skip concatenations) the median of each run's unhooked remainder.
"""

from __future__ import annotations

import gc
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

import mobilevid
from mobilevid.artifacts import read_json
from mobilevid.benchmarking import time_runs  # one timing loop for benchmarks and profiles
from mobilevid.errors import MobilevidError
from mobilevid.export.components import COMPONENTS
from mobilevid.export.manifest import read_manifest
from mobilevid.sampling import calls_per_step, denoiser_calls

SCHEMA = "mobilevid.profile"
SCHEMA_VERSION = 1
RUNTIMES = ("onnxruntime", "executorch", "torch")
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "int32": torch.int32, "int64": torch.int64}

Runner = Callable[[Sequence[torch.Tensor]], list[torch.Tensor]]


# -- inputs ----------------------------------------------------------------------------------------
def vocab_size(bundle: Path, manifest: dict[str, Any]) -> int:
    """Size of the bundled WordPiece vocabulary (token ids must stay below it)."""
    vocab = bundle / "tokenizer" / "vocab.txt"
    if vocab.is_file():
        with open(vocab, encoding="utf-8") as handle:
            return sum(1 for _ in handle)
    tok = manifest.get("tokenizer", {})
    # No vocabulary file: the special ids are the only ids known to be valid.
    return 1 + max(int(tok.get(k) or 0) for k in ("pad_id", "cls_id", "sep_id", "unk_id"))


def random_inputs(specs: Sequence[dict[str, Any]], vocab: int, seed: int = 0) -> list[torch.Tensor]:
    """Random tensors of the manifest's input specs; valid token ids, all-ones masks, mid-range timesteps."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for spec in specs:
        shape, dtype, name = list(spec["shape"]), _DTYPES[spec["dtype"]], spec["name"]
        if name == "input_ids":
            out.append(torch.randint(0, vocab, shape, generator=gen).to(dtype))
        elif name.endswith("mask"):
            out.append(torch.ones(shape, dtype=dtype))
        elif name == "timestep":
            out.append(torch.full(shape, 500.0, dtype=dtype))
        elif dtype.is_floating_point:
            out.append(torch.randn(shape, generator=gen).to(dtype))
        else:
            out.append(torch.zeros(shape, dtype=dtype))
    return out


# -- timing and memory ---------------------------------------------------------------------------
def set_threads(threads: int | None) -> None:
    """Intra-op threads for torch and ExecuTorch's XNNPACK pool (ONNX Runtime takes them per session).

    On a machine shared with other jobs, more threads than free cores make OpenMP-style
    pools wait on each other: torch eager with 2 threads was measured 10x slower than with 1
    on this project's 2-core CI machine under load.
    """
    if threads is None:
        return
    torch.set_num_threads(threads)
    try:
        from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool

        _unsafe_reset_threadpool(threads)
    except ImportError:  # ExecuTorch's runtime not installed: nothing to set
        pass


def runner(path: Path, runtime: str, threads: int | None = None) -> Runner:
    """``load_runner``, with ONNX Runtime's intra-op threads set when asked."""
    if runtime == "onnxruntime" and threads is not None:
        from mobilevid.export.onnx_target import onnx_runner

        return onnx_runner(path, threads=threads)
    from mobilevid.export.bundle_runtime import load_runner

    return load_runner(path, runtime)


def summarize_ms(times: Sequence[float]) -> dict[str, float]:
    ms = np.asarray(times) * 1e3
    return {"median_ms": round(float(np.median(ms)), 4), "p90_ms": round(float(np.percentile(ms, 90)), 4),
            "min_ms": round(float(ms.min()), 4)}


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


class PeakRSS:
    """RSS high-water mark over a ``with`` block.

    With psutil: a thread samples the RSS every millisecond (peak and increase over the RSS at
    entry). Without it: ``resource``'s ``ru_maxrss``, the process's lifetime peak (it cannot be
    reset, so the increase is only what this block added on top of every earlier peak).
    """

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        try:
            import psutil  # noqa: F401

            self.method = "psutil RSS sampled every 1 ms"
        except ImportError:
            self.method = "resource ru_maxrss (process lifetime peak)"
        self.peak = self.start = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss())
            self._stop.wait(self.interval)

    @staticmethod
    def _maxrss() -> int:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB, macOS bytes

    def __enter__(self) -> PeakRSS:
        if self.method.startswith("psutil"):
            self.start = self.peak = _rss()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        else:
            self.start = self.peak = self._maxrss()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, _rss())
        else:
            self.peak = self._maxrss()

    @property
    def peak_mb(self) -> float:
        return round(self.peak / 2**20, 1)

    @property
    def increase_mb(self) -> float:
        return round((self.peak - self.start) / 2**20, 1)


# -- the source model ------------------------------------------------------------------------------
def _denoiser_shape_matches(pipe: Any, manifest: dict[str, Any]) -> bool:
    den = manifest["components"].get("denoiser")
    cfg = pipe.denoiser.config
    want = [1, pipe.config.num_frames, cfg.in_channels, cfg.latent_height, cfg.latent_width]
    if den is not None:
        return list(den["inputs"][0]["shape"]) == want
    video = manifest["video"]
    return [video["frames"], video["height"], video["width"]] == [pipe.config.num_frames, pipe.config.height,
                                                                  pipe.config.width]


def source_pipeline(manifest: dict[str, Any]) -> tuple[Any, str]:
    """The PyTorch model a bundle was exported from, and a line saying which one it is.

    The manifest's model folder when it exists here; otherwise the built-in default model, or
    the manifest's preset with random weights (latency does not depend on the weights), when
    its shapes match the bundle's.
    """
    from mobilevid.models.presets import PRESETS, get_preset
    from mobilevid.pipeline import Pipeline

    src = (manifest.get("provenance") or {}).get("source_model") or {}
    path, preset = src.get("path"), src.get("preset")
    if path and Path(path).is_dir():
        return Pipeline.from_pretrained(path), f"model folder {path}"
    missing = f"source model {path} not found here; " if path else ""
    pipe = Pipeline.from_pretrained(None)
    if _denoiser_shape_matches(pipe, manifest):
        return pipe, f"{missing}built-in default model"
    if preset in PRESETS:
        pipe = Pipeline.from_config(get_preset(preset))
        if _denoiser_shape_matches(pipe, manifest):
            return pipe, f"{missing}preset {preset} with random weights (timing only)"
    raise MobilevidError(f"{missing}no model here has the bundle's shapes (preset {preset!r}): "
                         "keep the source model folder to profile the denoiser's blocks or --runtime torch")


# -- per-block breakdown of the denoiser ---------------------------------------------------------
def _block_units(unet: Any) -> list[tuple[str, str, str, dict[str, Any], list[torch.nn.Module]]]:
    """(unit name, group, kind, facts, modules) in forward order, for ``VideoUNet``'s structure."""
    from mobilevid.models.arch_spec import parse_arch, slot_table

    cfg = unet.config
    slots = slot_table(cfg)
    arch = parse_arch(cfg.arch, cfg)
    units: list[tuple[str, str, str, dict[str, Any], list[torch.nn.Module]]] = []
    embed = [m for m in (unet.conv_in, unet.time_proj, unet.time_embedding, unet.text_embedding,
                         unet.fps_embedding, unet.visual_condition) if m is not None]
    units.append(("embed", "embed", "embed", {}, embed))

    def slot_units(index: int, group: str, spatial: list[torch.nn.Module]) -> None:
        s = slots[index]
        facts = {"slot": index, "slot_name": s.name, "channels": s.channels, "tokens_per_frame": s.height * s.width}
        units.append((f"{s.name}.spatial", group, "spatial", facts, [m for m in spatial if m is not None]))
        layers = unet.temporal[str(index)] if str(index) in unet.temporal else []
        for name, layer in zip(arch.get(index, []), layers, strict=True):
            units.append((f"{s.name}.temporal.{name}", "temporal", "temporal", {**facts, "candidate": name}, [layer]))

    slot = 0
    for level, (layers, down) in enumerate(zip(unet.down_blocks, unet.downsamplers, strict=True)):
        for layer in layers:
            slot_units(slot, f"down.{level}", [layer.resnet, layer.attention])
            slot += 1
        if not isinstance(down, torch.nn.Identity):
            units.append((f"down.{level}.downsample", f"down.{level}", "resample", {}, [down]))
    slot_units(slot, "mid", [unet.mid_resnet_1, unet.mid_attention, unet.mid_resnet_2])
    slot += 1
    for up, (layers, sampler) in enumerate(zip(unet.up_blocks, unet.upsamplers, strict=True)):
        for layer in layers:
            slot_units(slot, f"up.{up}", [layer.resnet, layer.attention])
            slot += 1
        if not isinstance(sampler, torch.nn.Identity):
            units.append((f"up.{up}.upsample", f"up.{up}", "resample", {}, [sampler]))
    units.append(("out", "out", "out", {}, [unet.conv_norm_out, unet.conv_act, unet.conv_out]))
    return units


@torch.no_grad()
def denoiser_breakdown(module: torch.nn.Module, unet: Any, inputs: Sequence[torch.Tensor], runs: int,
                       warmup: int) -> dict[str, Any]:
    """Time ``module(*inputs)`` (a denoiser wrapping ``unet``) in torch eager, split by block with forward hooks.

    Each unit's time is the median over runs of its summed hook-to-hook time in one forward;
    ``other`` is what no hooked module covers (reshapes, concatenations of skips).
    """
    units = _block_units(unet)
    current: dict[str, float] = {}
    starts: dict[int, float] = {}
    handles = []

    def hooks(name: str) -> tuple[Callable, Callable]:
        def pre(mod: torch.nn.Module, args: Any) -> None:
            starts[id(mod)] = time.perf_counter()

        def post(mod: torch.nn.Module, args: Any, out: Any) -> None:
            current[name] = current.get(name, 0.0) + time.perf_counter() - starts.pop(id(mod))

        return pre, post

    for name, _, _, _, modules in units:
        pre, post = hooks(name)
        for m in modules:
            handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    per_unit: dict[str, list[float]] = {name: [] for name, *_ in units}
    totals: list[float] = []
    try:
        for i in range(warmup + runs):
            current.clear()
            start = time.perf_counter()
            module(*inputs)
            total = time.perf_counter() - start
            if i >= warmup:
                totals.append(total)
                for name in per_unit:
                    per_unit[name].append(current.get(name, 0.0))
    finally:
        for h in handles:
            h.remove()
    # Per-run leftovers, so the parts (unit medians + the median leftover) add up on a noisy machine too.
    other = statistics.median(max(0.0, t - sum(per_unit[n][i] for n in per_unit)) for i, t in enumerate(totals)) * 1e3
    parts_ms = sum(statistics.median(v) for v in per_unit.values()) * 1e3 + other
    rows = []
    for name, group, kind, facts, _ in units:
        ms = statistics.median(per_unit[name]) * 1e3
        rows.append({"name": name, "group": group, "kind": kind, "slot": facts.get("slot"),
                     "slot_name": facts.get("slot_name"), "candidate": facts.get("candidate"),
                     "channels": facts.get("channels"), "tokens_per_frame": facts.get("tokens_per_frame"),
                     "ms": round(ms, 4), "share": round(ms / parts_ms, 4)})
    groups: dict[str, float] = {}
    for r in rows:
        groups[r["group"]] = groups.get(r["group"], 0.0) + r["ms"]
    # Temporal layers as their own group, after the spatial path's groups.
    order = [g for g in groups if g != "temporal"] + (["temporal"] if "temporal" in groups else [])
    group_rows = [{"name": g, "ms": round(groups[g], 4), "share": round(groups[g] / parts_ms, 4)} for g in order]
    group_rows.append({"name": "other", "ms": round(other, 4), "share": round(other / parts_ms, 4)})
    return {"measured_with": "torch eager", "total_ms": round(statistics.median(totals) * 1e3, 4),
            "parts_ms": round(parts_ms, 4), "groups": group_rows, "units": rows}


# -- FLOPs and the NPU estimate -----------------------------------------------------------------
def _flops_and_activation_bytes(module: torch.nn.Module, inputs: Sequence[torch.Tensor]) -> tuple[int, int]:
    """FLOPs of one call, and activation traffic by ``npu_estimate``'s rule (conv / linear outputs in fp16)."""
    from torch.utils.flop_counter import FlopCounterMode

    from mobilevid.export.npu_estimate import FP16_BYTES

    moved = 0

    def hook(_m: torch.nn.Module, _i: Any, out: Any) -> None:
        nonlocal moved
        if isinstance(out, torch.Tensor):
            moved += 2 * out.numel() * FP16_BYTES  # written by its layer, read by the next

    kinds = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear)
    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, kinds)]
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():
            module(*inputs)
    finally:
        for h in handles:
            h.remove()
    return int(counter.get_total_flops()), moved


def npu_estimates(components: dict[str, dict[str, Any]], modules: dict[str, torch.nn.Module] | None,
                  inputs: dict[str, list[torch.Tensor]], model_config: Any | None) -> dict[str, Any]:
    """Fill ``flops``, ``bytes_moved`` and ``npu_estimate_ms`` of each component; returns the estimator's facts.

    Bytes moved per call, as ``npu_estimate`` models them: the component's weights as stored
    (bundle file size) plus every conv / linear output written and read once in fp16. The
    denoiser's FLOPs and activations come from ``npu_estimate`` (meta device); the other
    components' from the torch flop counter and hooks on the source model's modules.
    """
    from mobilevid.export import npu_estimate

    for name, comp in components.items():
        flops = activations = None
        if name == "denoiser" and model_config is not None:
            flops = int(npu_estimate.denoiser_flops(model_config))
            activations = int(npu_estimate.denoiser_activation_bytes(model_config))
        elif modules is not None and name in modules:
            flops, activations = _flops_and_activation_bytes(modules[name], inputs[name])
        comp["flops"] = flops
        comp["bytes_moved"] = None if activations is None else int(comp["bytes"]) + activations
        comp["npu_estimate_ms"] = (None if flops is None else
                                   round(npu_estimate.estimate_npu_seconds(flops, comp["bytes_moved"]) * 1e3, 4))
    return npu_estimate_facts()


def npu_estimate_facts() -> dict[str, Any]:
    from mobilevid.export import npu_estimate

    facts: dict[str, Any] = {"label": "estimate", "module": "mobilevid/export/npu_estimate.py",
                             "method": "roofline from FLOPs and bytes moved; not a measurement"}
    facts["constants"] = {k: v for k, v in vars(npu_estimate).items() if k.isupper() and isinstance(v, int | float)}
    facts["formula"] = "max(flops / (A18_PRO_NPU_OPS x SUSTAINED_EFFICIENCY), bytes_moved / " \
                       "(A18_PRO_DRAM_BYTES_PER_S x BANDWIDTH_EFFICIENCY))"
    return facts


# -- the profile -----------------------------------------------------------------------------------
def video_total(components: dict[str, dict[str, Any]], sampler: dict[str, Any], key: str = "median_ms"
                ) -> dict[str, Any] | None:
    """``text_encoder + steps x calls_per_step x denoiser + vae_decoder`` (None when a component or value is missing)."""
    steps, guidance = int(sampler["steps"]), float(sampler["guidance_scale"])
    per_step = calls_per_step(guidance)
    values = [components.get(name, {}).get(key) for name in COMPONENTS]
    info = {"steps": steps, "guidance_scale": guidance, "calls_per_step": per_step, "denoiser_calls": steps * per_step,
            "formula": f"text_encoder + {steps} steps x {per_step} x denoiser + vae_decoder"}
    if any(v is None for v in values):
        return {**info, "total_ms": None}
    te, den, dec = values
    return {**info, "total_ms": round(te + steps * per_step * den + dec, 4)}


def _device() -> dict[str, Any]:
    from mobilevid.benchmarking import machine

    m = machine()
    return {"name": "this machine", **m}


def _torch_bytes(module: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])


def profile_bundle(bundle: str | Path, runtime: str | None = None, runs: int = 10, warmup: int = 2,
                   breakdown: bool = True, threads: int | None = None,
                   log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Profile a bundle (see the module docstring for what and the returned schema).

    ``threads``: intra-op threads of every runtime (default: each runtime's own default).
    """
    from mobilevid.export.bundle_runtime import runtime_for

    if threads is not None and threads < 1:
        raise MobilevidError(f"--threads must be at least 1, got {threads}")
    if runs < 1:
        raise MobilevidError(f"--runs must be at least 1, got {runs}")
    if warmup < 0:
        raise MobilevidError(f"--warmup must be 0 or more, got {warmup}")
    if runtime is not None and runtime not in RUNTIMES:
        raise MobilevidError(f"unknown runtime {runtime!r}; valid: {', '.join(RUNTIMES)}")
    say = log or (lambda _msg: None)
    bundle = Path(bundle)
    manifest = read_manifest(bundle).to_json()
    runtime = "torch" if runtime == "torch" else runtime_for(manifest, runtime)
    set_threads(threads)
    names = [n for n in COMPONENTS if n in manifest["components"]]
    vocab = vocab_size(bundle, manifest)
    inputs = {n: random_inputs(manifest["components"][n]["inputs"], vocab, seed=i) for i, n in enumerate(names)}

    pipe, source, modules = None, None, None
    source_error = None
    if runtime == "torch" or breakdown:
        try:
            pipe, source = source_pipeline(manifest)
        except MobilevidError as err:
            if runtime == "torch":
                raise
            source_error = str(err)
    if pipe is not None:
        from mobilevid.export.components import build_components

        modules = {n: c.module for n, c in build_components(pipe, num_samples=1).items()}

    sampler = manifest["sampler"]
    calls = {"text_encoder": 1, "denoiser": denoiser_calls(int(sampler["steps"]), sampler["guidance_scale"]),
             "vae_decoder": 1}
    components: dict[str, dict[str, Any]] = {}
    for name in names:
        entry = manifest["components"][name]
        say(f"timing {name} ({runtime})")
        gc.collect()
        with PeakRSS() as peak:
            if runtime == "torch":
                assert modules is not None
                module = modules[name]

                def run(xs: Sequence[torch.Tensor], module: torch.nn.Module = module) -> Any:
                    with torch.no_grad():
                        return module(*xs)

                size = _torch_bytes(module)
            else:
                run = runner(bundle / entry["files"][0], runtime, threads)
                size = int(manifest["diagnostics"]["components"][name]["bytes"])
            run(inputs[name])
        times = time_runs(lambda run=run, xs=inputs[name]: run(xs), runs, warmup)
        components[name] = {**summarize_ms(times), "calls_per_video": calls[name], "peak_rss_mb": peak.peak_mb,
                            "rss_increase_mb": peak.increase_mb, "bytes": size, "inputs": entry["inputs"],
                            "outputs": entry.get("outputs", [])}
        del run
    memory_method = PeakRSS().method

    estimate_error = None
    try:
        npu = npu_estimates(components, modules, inputs, pipe.config if pipe is not None else None)
    except ImportError as err:  # the estimator is optional to a profile's measurements
        npu, estimate_error = None, f"npu_estimate unavailable: {err}"
    video = video_total(components, sampler)
    if video is not None and npu is not None:
        est = video_total(components, sampler, key="npu_estimate_ms")
        video["npu_estimate_ms"] = est["total_ms"] if est else None

    blocks = None
    if breakdown and pipe is not None and "denoiser" in names:
        say("denoiser blocks (torch eager)")
        assert modules is not None
        blocks = {**denoiser_breakdown(modules["denoiser"], pipe.denoiser, inputs["denoiser"], runs, warmup),
                  "source": source}
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "created_by": f"mobilevid {mobilevid.__version__}",
        "device": _device(),
        "bundle": str(bundle),
        "target": manifest["target"],
        "delegate": manifest.get("delegate"),
        "quantize": manifest.get("quantize"),
        "runtime": runtime,
        "runs": runs,
        "warmup": warmup,
        "threads": threads,
        "torch_threads": torch.get_num_threads(),
        "source_model": source,
        "source_model_error": source_error,
        "components": components,
        "memory_method": memory_method,
        "video": video,
        "denoiser_blocks": blocks,
        "npu_estimate": npu,
        "npu_estimate_error": estimate_error,
    }


# -- importing a device's profile ----------------------------------------------------------------
def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)


def validate_profile(data: Any, source: str = "profile") -> dict[str, Any]:
    """Check a ``mobilevid.profile`` v1 object (the required fields of the module docstring); one-line errors."""
    if not isinstance(data, dict):
        raise MobilevidError(f"{source}: a profile must be a JSON object")
    if data.get("schema") != SCHEMA or data.get("schema_version") != SCHEMA_VERSION:
        raise MobilevidError(f"{source}: unsupported schema {data.get('schema')!r} version "
                             f"{data.get('schema_version')!r} (expected {SCHEMA} v{SCHEMA_VERSION})")
    comps = data.get("components")
    if not isinstance(comps, dict) or not comps:
        raise MobilevidError(f"{source}: 'components' must be a non-empty object of component name -> timings")
    for name, comp in comps.items():
        if name not in COMPONENTS:
            raise MobilevidError(f"{source}: unknown component {name!r} (valid: {', '.join(COMPONENTS)})")
        if not isinstance(comp, dict) or not _is_number(comp.get("median_ms")) or comp["median_ms"] < 0:
            raise MobilevidError(f"{source}: components.{name}.median_ms must be a number >= 0")
        for key in ("p90_ms", "min_ms", "peak_rss_mb", "bytes"):
            if comp.get(key) is not None and not _is_number(comp[key]):
                raise MobilevidError(f"{source}: components.{name}.{key} must be a number")
    video = data.get("video")
    if video is not None and (not isinstance(video, dict)
                              or (video.get("total_ms") is not None and not _is_number(video["total_ms"]))):
        raise MobilevidError(f"{source}: 'video' must be an object whose total_ms is a number")
    if data.get("device") is not None and not isinstance(data["device"], dict):
        raise MobilevidError(f"{source}: 'device' must be an object")
    return data


def load_device_profile(path: str | Path) -> dict[str, Any]:
    return validate_profile(read_json(path, "device profile"), str(path))


# -- Markdown ---------------------------------------------------------------------------------------
def _f(v: Any, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _threads(result: dict[str, Any]) -> str:
    if result.get("threads") is None:
        return f"each runtime's default threads (torch: {result.get('torch_threads')})"
    return f"{result['threads']} intra-op thread(s)"


def format_profile(result: dict[str, Any], device: dict[str, Any] | None = None) -> str:
    """Markdown: the component table, the total per video, the denoiser blocks and the device comparison."""
    dev = result["device"]
    lines = [f"# Profile of {result['bundle']} ({result['target']}, quantize {result['quantize']}) "
             f"on {result['runtime']}", "",
             f"This machine: {dev.get('platform')}, {dev.get('cpus')} CPUs; median and p90 of {result['runs']} runs "
             f"after {result['warmup']} warm-up runs, random inputs of the bundle's shapes, "
             f"{_threads(result)}.", "",
             "| component | calls / video | median ms | p90 ms | peak RSS MB | size MB | NPU estimate ms |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    comps = result["components"]
    for name, c in comps.items():
        lines.append(f"| {name} | {c['calls_per_video']} | {_f(c['median_ms'])} | {_f(c['p90_ms'])} | "
                     f"{_f(c['peak_rss_mb'], 0)} (+{_f(c.get('rss_increase_mb'), 0)}) | {_f(c['bytes'] / 1e6)} | "
                     f"{_f(c.get('npu_estimate_ms'))} |")
    video = result["video"]
    size = sum(c["bytes"] for c in comps.values())
    if video and video["total_ms"] is not None:
        lines.append(f"| **total per video** | | **{_f(video['total_ms'])}** | | | **{_f(size / 1e6)}** | "
                     f"**{_f(video.get('npu_estimate_ms'))}** |")
        lines += ["", f"Total per video = {video['formula']} (guidance {video['guidance_scale']}: "
                      f"{video['denoiser_calls']} denoiser calls)."]
    else:
        lines += ["", "Total per video: not computed (the bundle lacks a component)."]
    lines.append(f"Peak RSS: {result['memory_method']}, the process's high-water mark while the component "
                 "was loaded and run once (+ what loading and running it added).")
    if result.get("npu_estimate"):
        lines.append("NPU column: an **estimate** of iPhone-class Neural Engine latency (roofline from FLOPs and "
                     "bytes moved, mobilevid/export/npu_estimate.py), not a measurement.")
    elif result.get("npu_estimate_error"):
        lines.append(f"NPU estimate: {result['npu_estimate_error']}.")
    blocks = result.get("denoiser_blocks")
    if blocks:
        lines += ["", f"## Denoiser blocks: torch eager, measured ({blocks['source']}; one call "
                      f"{_f(blocks['total_ms'])} ms)", "",
                  "| block | ms | share |", "|---|---:|---:|"]
        lines += [f"| {g['name']} | {_f(g['ms'])} | {100 * g['share']:.1f}% |" for g in blocks["groups"]]
        lines += ["", "Measured in torch eager with forward hooks, not in the bundle's runtime; per-slot "
                      "spatial and temporal units are in the JSON (denoiser_blocks.units)."]
    elif result.get("source_model_error"):
        lines += ["", f"Denoiser blocks: not measured ({result['source_model_error']})."]
    if device is not None:
        lines += ["", _format_device(result, device)]
    return "\n".join(lines)


def _format_device(result: dict[str, Any], device: dict[str, Any]) -> str:
    info = device.get("device") or {}
    name = info.get("name") or "device"
    theirs = device["components"]
    lines = [f"## This machine vs {name} ({device.get('runtime', '?')}, imported)", "",
             f"| component | this machine ms ({result['runtime']}) | {name} ms | {name} / this | NPU estimate ms |",
             "|---|---:|---:|---:|---:|"]
    for comp in COMPONENTS:
        ours, other = result["components"].get(comp), theirs.get(comp)
        if ours is None and other is None:
            continue
        a = ours["median_ms"] if ours else None
        b = other["median_ms"] if other else None
        ratio = _f(b / a, 3) if a and b is not None else "-"
        est = ours.get("npu_estimate_ms") if ours else None
        lines.append(f"| {comp} | {_f(a)} | {_f(b)} | {ratio} | {_f(est)} |")
    ours_total = (result.get("video") or {}).get("total_ms")
    their_video = device.get("video") or {}
    their_total = their_video.get("total_ms")
    if their_total is None and result.get("video"):
        their_total = video_total(theirs, {"steps": result["video"]["steps"],
                                           "guidance_scale": result["video"]["guidance_scale"]})["total_ms"]
    ratio = _f(their_total / ours_total, 3) if ours_total and their_total is not None else "-"
    lines.append(f"| **total per video** | {_f(ours_total)} | {_f(their_total)} | {ratio} | "
                 f"{_f((result.get('video') or {}).get('npu_estimate_ms'))} |")
    return "\n".join(lines)
