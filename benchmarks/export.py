"""Export paths side by side: denoiser step latency, bundle size and (default model) quality per runtime and quantization.

    python benchmarks/export.py [--presets tiny,small] [--runs 10] [--prompts 16] [--no-eval] [--quick]

For each preset (``tiny``: the built-in default model; ``small``: random weights, latency and
size only) and each path, one denoiser step (one call, batch 1, the model's frames and size,
real inputs) is timed as the median of ``--runs`` runs on this machine's CPU: torch eager fp32,
ONNX Runtime fp32 / int8 (dynamic) / w8a8 (static QDQ), ExecuTorch XNNPACK fp32 / w8a8.
Core ML 4-bit (int4, per-block) is exported for its size only (Core ML predicts only on macOS).
Sizes are the bundle files on disk; "x smaller" is against the denoiser's fp32 weights.

For the default model the ONNX fp32 / int8 / w8a8 and ExecuTorch w8a8 bundles are exported whole
(text encoder, denoiser, decoder) and run through the eval suite (``--suite``, ``--prompts``
held-out prompts); each quantized bundle's metrics are compared with the ONNX fp32 bundle's.
Everything else exports the denoiser only. ``--threads`` (default 1) sets every runtime's
intra-op threads: on a 2-core machine shared with other jobs, torch eager with its default 2
threads ran 10x slower and far noisier than with 1, which would flatter every export path.
Each latency row has wall time and process CPU time: on a machine shared with other jobs a
one-thread run's wall time includes waiting for the core, its CPU time does not, so the speed-ups
are taken from CPU times. Results are written after every row (``"complete": false`` until the
run ends).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import torch

import mobilevid.export.bundle as bundle_module
from mobilevid.export.bundle_runtime import BundlePipeline
from mobilevid.export.components import build_components
from mobilevid.export.timing import runner, set_threads, summarize_ms, wall_and_cpu_runs
from mobilevid.pipeline import Pipeline, PipelineOutput

from _common import benchmark_parser, log, markdown_table, write_results

# (target, quantize, label, runtime, evaluated): runtime None = size only here. Evaluated paths are
# exported whole for the default model; the float reference is the ONNX fp32 bundle (its parity
# gate against PyTorch is far above 35 dB, as is ExecuTorch fp32's, so one float reference serves both).
PATHS = [
    ("onnx", "none", "ONNX Runtime fp32", "onnxruntime", True),
    ("onnx", "int8", "ONNX Runtime int8 (dynamic)", "onnxruntime", True),
    ("onnx", "w8a8", "ONNX Runtime w8a8 (static)", "onnxruntime", True),
    ("executorch", "none", "ExecuTorch XNNPACK fp32", "executorch", False),
    ("executorch", "w8a8", "ExecuTorch XNNPACK w8a8", "executorch", True),
    ("coreml", "int4", "Core ML int4 (size only)", None, False),
]
FLOAT_REFERENCE = "ONNX Runtime fp32"
QUALITY_KEYS = ("color_accuracy", "shape_accuracy", "motion_accuracy", "digit_accuracy", "direction_accuracy",
                "camera_motion_accuracy", "temporal_flickering", "fd_effnet", "seconds_per_video")


class BundleAdapter:
    """``BundlePipeline`` with ``Pipeline``'s call signature, as ``evaluate_model`` calls it."""

    def __init__(self, bundle: Path, threads: int | None = None) -> None:
        self.pipe = BundlePipeline(bundle)
        if threads is not None:  # the same intra-op threads as the latency rows
            self.pipe.runners = {name: runner(bundle / comp.files[0], self.pipe.runtime, threads)
                                 for name, comp in self.pipe.manifest.components.items()}

    def __call__(self, prompt: str | list[str], num_inference_steps: int | None = None,
                 guidance_scale: float | None = None, seed: int = 0) -> PipelineOutput:
        # A bundle's steps and guidance are fixed at export; evaluate_model passes None for "the model's".
        if num_inference_steps is not None or guidance_scale is not None:
            raise ValueError("a bundle's steps and guidance are fixed at export")
        return self.pipe(prompt, seed=seed)


def _cache_components() -> None:
    """Build each pipe's export inputs once: every path of a preset exports from the same real inputs.

    ``build_components`` is deterministic for a (pipe, num_samples, seed) and took ~3 minutes per
    export on ``small`` (VAE-encoding 8 clips at 256x256), so repeating it per path was waste.
    """
    real = build_components
    cache: dict[tuple[int, int, int], dict] = {}

    def cached(pipe: Pipeline, num_samples: int = 8, seed: int = 0) -> dict:
        key = (id(pipe), num_samples, seed)
        if key not in cache:
            cache[key] = real(pipe, num_samples, seed)
        return cache[key]

    bundle_module.build_components = cached


def _pipe(preset: str) -> Pipeline:
    if preset == "tiny":
        return Pipeline.from_pretrained(None)
    from mobilevid.models.presets import get_preset

    torch.manual_seed(0)
    return Pipeline.from_config(get_preset(preset))


def bench_preset(preset: str, args: argparse.Namespace, work: Path) -> tuple[list[dict], list[dict], dict]:
    """Latency/size rows and (tiny, unless --no-eval) quality rows for one preset."""
    pipe = _pipe(preset)
    full = preset == "tiny" and not args.no_eval  # whole bundles only where they are evaluated
    den = bundle_module.build_components(pipe, num_samples=8)["denoiser"]
    example = list(den.example.values())
    params = sum(p.numel() for p in pipe.denoiser.parameters())
    fp32_bytes = 4 * params
    log(f"{preset}: denoiser {params / 1e6:.1f}M parameters; timing torch eager")
    with torch.no_grad():
        times, cpu = wall_and_cpu_runs(lambda: den.module(*example), args.runs, args.warmup)
    torch_ms, torch_cpu_ms = summarize_ms(times)["median_ms"], summarize_ms(cpu)["median_ms"]
    rows: list[dict[str, Any]] = [{"preset": preset, "path": "torch eager fp32", "ms / step": torch_ms,
                                   "p90 ms": summarize_ms(times)["p90_ms"], "CPU ms / step": torch_cpu_ms,
                                   "speedup vs torch fp32 (CPU time)": 1.0,
                                   "MB": fp32_bytes / 1e6, "x smaller than fp32": 1.0}]
    bundles: dict[str, Path] = {}
    for target, quantize, label, runtime, evaluated in PATHS:
        if f"{target}:{quantize}" not in args.paths:
            continue
        components = ("text_encoder", "denoiser", "vae_decoder") if full and evaluated else ("denoiser",)
        out = work / f"{preset}_{target}_{quantize}"
        row: dict[str, Any] = {"preset": preset, "path": label}
        log(f"{preset}: export {label}")
        t0 = time.perf_counter()
        try:
            m = bundle_module.export_bundle(pipe, None, target, quantize, output=out, components=components,
                                            progress=False)
        except Exception as err:  # record and go on: one failed path must not lose the others
            row["error"] = f"export: {type(err).__name__}: {str(err).splitlines()[0][:200]}"
            row["export s"] = time.perf_counter() - t0
            log(row["error"])
            traceback.print_exc()
            rows.append(row)
            continue
        entry = m.diagnostics.components["denoiser"]
        parity = entry.parity or {}
        row.update({"MB": entry.bytes / 1e6, "x smaller than fp32": fp32_bytes / entry.bytes,
                    "export s": entry.export_seconds})
        if isinstance(parity.get("worst_db"), float):  # Core ML is not run here: no parity figure
            row["parity dB"] = parity["worst_db"]
        if entry.delegation:
            row["delegated ops"] = f"{entry.delegation['delegated_ops']}/" \
                                   f"{entry.delegation['delegated_ops'] + entry.delegation['portable_ops']}"
        log(f"{preset}: {label}: {row['MB']:.1f} MB, denoiser export {row['export s']:.0f} s")
        if runtime is not None:
            run = runner(out / m.components["denoiser"].files[0], runtime, args.threads)
            times, cpu = wall_and_cpu_runs(lambda run=run: run(example), args.runs, args.warmup)
            stats, cpu_ms = summarize_ms(times), summarize_ms(cpu)["median_ms"]
            del run
            row.update({"ms / step": stats["median_ms"], "p90 ms": stats["p90_ms"], "CPU ms / step": cpu_ms,
                        "speedup vs torch fp32 (CPU time)": torch_cpu_ms / cpu_ms})
            log(f"{preset}: {label}: {stats['median_ms']:.1f} ms / step")
            if full and evaluated:
                bundles[label] = out
        rows.append(row)
        args.checkpoint(rows)
    quality = evaluate_bundles(preset, bundles, args) if full else []
    if not args.keep:
        for target, quantize, *_ in PATHS:
            shutil.rmtree(work / f"{preset}_{target}_{quantize}", ignore_errors=True)
    facts = {"params": params, "fp32_bytes": fp32_bytes,
             "frames": pipe.config.num_frames, "resolution": [pipe.config.height, pipe.config.width],
             "latent": list(example[0].shape)}
    return rows, quality, facts


def evaluate_bundles(preset: str, bundles: dict[str, Path], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Eval-suite metrics of each bundle, and each quantized one's change against the float reference bundle."""
    from mobilevid.eval.suite import evaluate_model

    results: dict[str, dict[str, float]] = {}
    for label, bundle in bundles.items():
        log(f"{preset}: eval {label} ({args.suite}, {args.prompts} prompts)")
        try:
            results[label] = evaluate_model(BundleAdapter(bundle, args.threads), args.suite, args.prompts, seed=0,
                                            progress=False)
        except Exception as err:
            log(f"eval {label} failed: {type(err).__name__}: {err}")
            traceback.print_exc()
    rows = []
    ref = results.get(FLOAT_REFERENCE)
    for label, metrics in results.items():
        row: dict[str, Any] = {"preset": preset, "path": label}
        for k in QUALITY_KEYS:
            if k in metrics:
                row[k] = metrics[k]
                if ref is not None and label != FLOAT_REFERENCE and k != "seconds_per_video":
                    row[f"Δ {k}"] = metrics[k] - ref[k]
        rows.append(row)
    return rows


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0])
    parser.add_argument("--presets", default="tiny,small", help="comma-separated presets (default tiny,small)")
    parser.add_argument("--runs", type=int, default=10, help="timed denoiser calls per path (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first (default 2)")
    parser.add_argument("--prompts", type=int, default=16, help="held-out prompts per eval (default 16; full: 64)")
    parser.add_argument("--suite", default="shapes", choices=["shapes", "digits", "photos"])
    parser.add_argument("--no-eval", action="store_true", help="latency and size only")
    parser.add_argument("--paths", default=",".join(f"{t}:{q}" for t, q, *_ in PATHS),
                        help="comma-separated target:quantize paths (default: all)")
    parser.add_argument("--threads", type=int, default=1,
                        help="intra-op threads for torch, ONNX Runtime and ExecuTorch (default 1: steady on a "
                        "shared machine; 0 = each runtime's default)")
    parser.add_argument("--workdir", type=Path, default=None, help="where bundles are written (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the bundles")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.warmup, args.prompts = 3, 1, min(args.prompts, 4)
    args.paths = {p.strip() for p in args.paths.split(",") if p.strip()}
    args.threads = args.threads or None
    set_threads(args.threads)
    _cache_components()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="mobilevid-export-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    quality: list[dict[str, Any]] = []
    facts: dict[str, Any] = {}

    def extra(done: bool) -> dict[str, Any]:
        return {"presets": facts, "quality": quality, "runs": args.runs, "warmup": args.warmup,
                "threads": args.threads, "torch_threads": torch.get_num_threads(), "suite": args.suite,
                "prompts": args.prompts, "seconds": round(time.perf_counter() - start, 1), "complete": done}

    # Partial results after every row: a long run that is cut short keeps what it measured.
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    models = {preset: "default" if preset == "tiny" else None for preset in presets}  # as _pipe builds them
    args.checkpoint = lambda current: write_results("export", rows + current, extra(False), args.output,
                                                    models=models)
    for preset in presets:
        r, q, f = bench_preset(preset, args, work)
        rows += r
        quality += q
        facts[preset] = f
    columns = ["preset", "path", "ms / step", "p90 ms", "CPU ms / step", "speedup vs torch fp32 (CPU time)", "MB",
               "x smaller than fp32",
               "parity dB", "export s", "delegated ops", "error"]
    threads = f"{args.threads} thread(s)" if args.threads else "default threads"
    print(f"\n# Denoiser step latency and bundle size (median of {args.runs} runs, CPU, {threads})\n")
    print(markdown_table(rows, [c for c in columns if any(c in r for r in rows)]))
    small_et = next((r for r in rows if r["preset"] == "small" and r["path"] == "ExecuTorch XNNPACK w8a8"
                     and "ms / step" in r), None)
    if small_et:
        print(f"\nExecuTorch int8 vs torch eager fp32 on small: {small_et['speedup vs torch fp32 (CPU time)']:.2f}x faster "
              f"(goal >= 2x)")
    if quality:
        print(f"\n# Default model quality ({args.suite}, {args.prompts} prompts; Δ: quantized minus the "
              f"{FLOAT_REFERENCE} bundle)\n")
        cols: list[str] = []
        for r in quality:
            cols += [k for k in r if k not in cols]
        print(markdown_table(quality, cols))
    final = extra(True)
    print(f"\nwrote {write_results('export', rows, final, args.output, models=models)} ({final['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
