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

The profile's JSON fields are described in ``mobilevid/export/device_json.py``. The jobs live in
their own modules: ``profile_inputs`` (random inputs of the bundle's shapes), ``timing``,
``memory``, ``source_model``, ``blocks`` (the denoiser's per-block breakdown), ``component_costs``
(FLOPs, bytes moved, the NPU estimate), ``video_total``, ``device_json`` and ``profile_report``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

import mobilevid
from mobilevid.errors import MobilevidError
from mobilevid.export.blocks import denoiser_breakdown
from mobilevid.export.component_costs import npu_estimates
from mobilevid.export.components import COMPONENTS
from mobilevid.export.device_json import (
    SCHEMA,
    SCHEMA_VERSION,
    load_device_profile,
    machine,
    validate_profile,
)
from mobilevid.export.manifest import read_manifest
from mobilevid.export.memory import PeakRSS
from mobilevid.export.profile_inputs import random_inputs, vocab_size
from mobilevid.export.profile_report import format_profile
from mobilevid.export.source_model import source_pipeline
from mobilevid.export.timing import runner, set_threads, summarize_ms, time_runs
from mobilevid.export.video_total import video_total
from mobilevid.sampling import denoiser_calls

# Re-exported: ``mobilevid profile``, the search's cost table and the tests import them from here.
__all__ = ["RUNTIMES", "SCHEMA", "SCHEMA_VERSION", "denoiser_breakdown", "format_profile", "load_device_profile",
           "profile_bundle", "set_threads", "summarize_ms", "time_runs", "validate_profile", "video_total"]

RUNTIMES = ("onnxruntime", "executorch", "torch")


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
    contract = read_manifest(bundle)
    manifest = contract.to_json()
    runtime = "torch" if runtime == "torch" else runtime_for(contract, runtime)
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
        "device": machine(),
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
