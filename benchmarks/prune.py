"""What structured pruning buys: the unpruned model against pruned denoisers and VAE decoders, in one run.

    python benchmarks/prune.py [--model default] [--decoder-ratios 0.5 0.75] [--denoiser-ratios 0.25 0.5]
        [--recovered vae_decoder:0.5=DIR ...] [--combined DIR ...] [--prompts 64] [--suite shapes] [--runtimes torch onnx executorch]
        [--coreml] [--quick]

Rows: the unpruned model, then each component pruned by each ratio (torch-pruning, l1, whole
norm groups and heads; ``mobilevid prune``). A ratio given with ``--recovered COMPONENT:RATIO=DIR``
uses that folder (a ``mobilevid prune --recover-steps N`` result) instead of pruning on the spot
without recovery; the row says which. ``--combined DIR`` adds a row for a model pruned in both
components (``mobilevid prune --model RUN/model`` on an already pruned model; the row names the
chain of ``pruned_from.json`` records). Per row: parameters and FLOPs of the pruned component
(batch 1, the model's frames and size), its latency per call (median, ``--threads`` threads) in
torch eager, ONNX Runtime fp32 and ExecuTorch XNNPACK fp32, seconds per video of the whole
pipeline (the model's own steps: 4 for the distilled student; all rows timed in interleaved rounds;
speed-ups from process CPU time, wall times kept beside) and the eval-suite metrics with
FD-EffNet on held-out prompts, plus speed-ups against the unpruned row.

Then ``mobile-0.6b`` (random weights; the pruned shapes are those the pruned config rebuilds):
parameters, FLOPs per call, and the roofline NPU estimate of a 4-step video
(``mobilevid/export/npu_estimate.py``), with 4-bit weights counted as params / 2 bytes; ``--coreml``
measures the real Core ML 4-bit package instead (about 24 minutes per model on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from mobilevid.artifacts import read_json
from mobilevid.config import from_dict
from mobilevid.eval.suite import evaluate_model
from mobilevid.export.bundle import export_bundle
from mobilevid.export.components import VAEDecoderExport, build_components
from mobilevid.export.npu_estimate import denoiser_activation_bytes, denoiser_flops, estimate_npu_seconds
from mobilevid.export.parity import psnr
from mobilevid.export.timing import runner, set_threads, summarize_ms, wall_and_cpu_runs
from mobilevid.models.presets import ModelConfig, get_preset
from mobilevid.models.vae import VideoVAE
from mobilevid.models.video_unet import VideoUNet
from mobilevid.pipeline import Pipeline, resolve_model_dir
from mobilevid.pruning.component_pruning import pruned_model_config
from mobilevid.pruning.prune import RECORD, component_widths, prune_model
from mobilevid.pruning.prune_config import PruneConfig

from _common import benchmark_parser, log, markdown_table, write_results

RUNTIMES = {"onnx": ("onnx", "onnxruntime", "ONNX Runtime fp32"), "executorch": ("executorch", "executorch",
                                                                                 "ExecuTorch XNNPACK fp32")}
STEPS = 4  # the distilled student's steps; mobile-0.6b's estimate assumes the same
TARGET_DECODE, TARGET_VIDEO, TARGET_POINTS = 3.0, 1.5, 0.03


def decoder_flops(vae: VideoVAE, frames: int, latent: tuple[int, int, int]) -> int:
    """FLOPs of one decode of a clip (batch 1), counted on meta tensors."""
    with torch.device("meta"):
        module = VAEDecoderExport(VideoVAE(vae.config))
        z = torch.zeros(1, frames, *latent)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            module(z)
    return int(counter.get_total_flops())


def _variants(args: argparse.Namespace, source: Path, work: Path) -> list[tuple[str, str | None, float | None, Path]]:
    """(label, component, ratio, model folder) per row; pruned on the spot unless a recovered folder is given."""
    given = {}
    for entry in args.recovered:
        key, _, path = entry.partition("=")
        component, _, ratio = key.partition(":")
        given[(component, float(ratio))] = Path(path)
    rows = [("unpruned", None, None, source)]
    args.models["unpruned"] = source
    for component, ratios in (("vae_decoder", args.decoder_ratios), ("denoiser", args.denoiser_ratios)):
        for ratio in ratios:
            folder = given.get((component, ratio))
            if folder is None:
                folder = work / f"{component}_{ratio}"
                model_cfg = from_dict(ModelConfig, read_json(source / "model_index.json"))
                log(f"prune {component} by {ratio} (l1, no recovery)")
                prune_model(PruneConfig(component=component, ratio=ratio), source, model_cfg, folder)
            steps = read_json(folder / RECORD).get("recovery_steps", 0)
            recovery = f"recovered {steps} steps" if steps else "no recovery"
            rows.append((f"{component} {ratio} ({recovery})", component, ratio, folder))
            args.models[rows[-1][0]] = folder
    for folder in map(Path, args.combined):
        chain = combined_chain(folder)
        args.combined_chains.append([(r["component"], r["ratio"]) for r in chain])
        what = " + ".join(f"{r['component']} {r['ratio']}" for r in chain)
        steps = " + ".join(str(r.get("recovery_steps", 0)) for r in chain)
        run = folder.parent.name if folder.name == "model" else folder.name  # tells apart two runs of one chain
        rows.append((f"{what} (recovered {steps} steps; {run})", None, None, folder))
        args.models[rows[-1][0]] = folder
    return rows


def combined_chain(folder: Path) -> list[dict[str, Any]]:
    """The pruning records of a ``--combined`` folder, which must be pruned in both components."""
    chain = pruning_chain(folder)
    if len({r["component"] for r in chain}) < 2:
        raise SystemExit(f"error: --combined {folder}: not a model pruned in both components "
                         f"(its {RECORD} chain: {[(r['component'], r['ratio']) for r in chain]})")
    return chain


def pruning_chain(folder: Path) -> list[dict[str, Any]]:
    """The ``pruned_from.json`` records from the first pruning to ``folder``'s (a pruned model pruned again)."""
    chain, seen = [], set()
    while (folder / RECORD).is_file() and folder.resolve() not in seen:
        seen.add(folder.resolve())
        record = read_json(folder / RECORD)
        chain.insert(0, record)
        # A source folder can change after the pruning read it (the unpruned default replaced by the
        # pruned one): follow it only while it still holds the widths this pruning started from.
        folder = Path(record["source"])
        if not (folder / "model_index.json").is_file() or _widths_now(folder, record["component"]) != record["widths_before"]:
            break
    return chain


def _widths_now(folder: Path, component: str) -> dict[str, Any]:
    return json.loads(json.dumps(component_widths(from_dict(ModelConfig, read_json(folder / "model_index.json")), component)))


def _component_facts(pipe: Pipeline, component: str) -> tuple[dict[str, Any], Any]:
    """Parameters and FLOPs of one component of ``pipe``, and its export component (module + real inputs)."""
    cfg = pipe.config
    comp = build_components(pipe, num_samples=2)[component]
    if component == "denoiser":
        params = sum(p.numel() for p in pipe.denoiser.parameters())
        flops = denoiser_flops(pipe.denoiser.config)
    else:
        params = sum(p.numel() for p in pipe.vae.decoder_modules().parameters())
        d = pipe.denoiser.config
        flops = decoder_flops(pipe.vae, cfg.num_frames, (d.in_channels, d.latent_height, d.latent_width))
    return {f"{component} params (M)": params / 1e6, f"{component} GFLOPs": flops / 1e9}, comp


def _interleaved_ms(calls: dict[tuple[int, str], Any], runs: int,
                    warmup: int) -> dict[tuple[int, str], tuple[float, float]]:
    """Median (wall ms, process CPU ms) per call of each callable, timed in rounds that visit every callable once.

    The machine is shared: load drifts over minutes, and timing one row after another would
    charge the drift to whichever row ran during it. Rounds spread it over all rows alike.
    """
    for fn in calls.values():
        for _ in range(warmup):
            fn()
    wall: dict[tuple[int, str], list[float]] = {key: [] for key in calls}
    cpu: dict[tuple[int, str], list[float]] = {key: [] for key in calls}
    for _ in range(runs):
        for key, fn in calls.items():
            w, c = wall_and_cpu_runs(fn, 1, 0)
            wall[key] += w
            cpu[key] += c
    return {key: (summarize_ms(wall[key])["median_ms"], summarize_ms(cpu[key])["median_ms"]) for key in calls}


def bench_tiny(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    source = resolve_model_dir(args.model)
    variants = _variants(args, source, work)
    pipes = [Pipeline.from_pretrained(folder) for _, _, _, folder in variants]
    rows: list[dict[str, Any]] = [{"model": label} for label, *_ in variants]
    # The unpruned and combined rows measure both parts, a row pruned in one component that part.
    parts = [(i, part) for i, (_, component, _, _) in enumerate(variants) for part in ("denoiser", "vae_decoder")
             if component in (None, part)]
    comps = {}
    for i, part in parts:
        facts, comps[(i, part)] = _component_facts(pipes[i], part)
        rows[i].update(facts)
    with torch.no_grad():  # how close each pruned component stays to the unpruned one on the same real inputs
        for (i, part), comp in comps.items():
            if i and (0, part) in comps:
                ref = comps[(0, part)]
                rows[i][f"{part} PSNR vs unpruned (dB)"] = min(
                    psnr(ref.module(*x.values()), comp.module(*x.values())) for x in ref.samples)
    # What the acceptance reads comes first (accuracy, torch latency, seconds per video), so a run
    # stopped during the slow exports below still holds it in its checkpointed JSON.
    for i, pipe in enumerate(pipes):
        log(f"{variants[i][0]}: eval {args.suite} ({args.prompts} prompts)")
        metrics = evaluate_model(pipe, args.suite, args.prompts, seed=0, progress=False)
        rows[i].update({k: v for k, v in metrics.items() if k != "seconds_per_video"})
        log(f"{variants[i][0]}: {rows[i]}")
        args.checkpoint(rows)
    log("torch eager latency per call")
    calls: dict[tuple[int, str], Any] = {}
    for key, comp in comps.items():
        example = list(comp.example.values())
        calls[key] = lambda comp=comp, example=example: comp.module(*example)
    with torch.no_grad():
        for (i, part), (ms, cpu_ms) in _interleaved_ms(calls, args.runs, args.warmup).items():
            rows[i][f"{part} torch ms"], rows[i][f"{part} torch CPU ms"] = ms, cpu_ms
    log(f"seconds per video, {args.video_prompts} prompts per call, interleaved rounds")
    prompts = ["a red circle moving right", "the digit 3 moving up", "a blue square moving left",
               "a green triangle moving down"] * 4
    batch = prompts[:args.video_prompts]
    video = {(i, "video"): (lambda pipe=pipe: pipe(batch, seed=0)) for i, pipe in enumerate(pipes)}
    for (i, _), (ms, cpu_ms) in _interleaved_ms(video, args.runs, 1).items():
        rows[i]["seconds per video"] = ms / 1e3 / len(batch)
        rows[i]["CPU seconds per video"] = cpu_ms / 1e3 / len(batch)
    args.checkpoint(rows)
    for name in args.runtimes:
        if name == "torch":
            continue
        target, runtime, label = RUNTIMES[name]
        calls = {}
        for (i, part), comp in comps.items():
            out = work / f"{i}_{part}_{name}"
            log(f"{variants[i][0]}: export {part} to {label}")
            try:
                m = export_bundle(pipes[i], None, target, "none", output=out, components=(part,), progress=False)
                run = runner(out / m.components[part].files[0], runtime, args.threads)
                example = list(comp.example.values())
                calls[(i, part)] = lambda run=run, example=example: run(example)
            except Exception as err:  # one failed export must not lose the other rows
                rows[i][f"{part} {label} CPU ms"] = f"error: {type(err).__name__}: {str(err).splitlines()[0][:120]}"
                traceback.print_exc()
        log(f"{label} latency per call")
        for (i, part), (ms, cpu_ms) in _interleaved_ms(calls, args.runs, args.warmup).items():
            rows[i][f"{part} {label} ms"], rows[i][f"{part} {label} CPU ms"] = ms, cpu_ms
        args.checkpoint(rows)
    # Speed-ups from process CPU time: what a one-thread run spends on an idle core (the machine is
    # shared, and wall time also counts waiting); the wall figures stay in the rows beside them.
    base = rows[0]
    for row in rows[1:]:
        for key in [k for k in row if k.endswith(" CPU ms")]:
            if isinstance(row[key], float) and isinstance(base.get(key), float):
                row[key.replace(" CPU ms", " speed-up")] = base[key] / row[key]
        row["video speed-up"] = base["CPU seconds per video"] / row["CPU seconds per video"]
        row["video wall speed-up"] = base["seconds per video"] / row["seconds per video"]
        for key in [k for k in row if k.endswith("accuracy")]:
            row[f"Δ {key}"] = row[key] - base[key]
    return rows


def _module_params(build) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in build().parameters())


def bench_mobile(args: argparse.Namespace) -> list[dict[str, Any]]:
    """mobile-0.6b, random weights: parameters, FLOPs, 4-bit size and the NPU estimate, unpruned and pruned."""
    base = get_preset("mobile-0.6b")
    rows, converted = [], {}
    chains = [[]] + [[("denoiser", r)] for r in args.denoiser_ratios] + \
             [[("vae_decoder", r)] for r in args.decoder_ratios] + args.combined_chains
    for chain in chains:
        cfg = base
        for component, ratio in chain:
            cfg = pruned_model_config(cfg, component, ratio)
        label = " + ".join(f"{component} {ratio}" for component, ratio in chain) or "unpruned"
        log(f"mobile-0.6b {label}: counting")
        den_params = _module_params(lambda cfg=cfg: VideoUNet(cfg.denoiser))
        dec_params = _module_params(lambda cfg=cfg: VideoVAE(cfg.vae).decoder_modules())
        flops = denoiser_flops(cfg)
        d = cfg.denoiser
        dec_flops = _decoder_flops_meta(cfg)
        weights_bytes = den_params / 2  # 4-bit weights, no look-up-table overhead (computed, not measured)
        kind = "computed (params / 2)"
        if args.coreml:
            key = repr(cfg.denoiser)  # a decoder-only chain keeps the unpruned denoiser: convert it once
            if key not in converted:
                log(f"mobile-0.6b {label}: Core ML palettize4 conversion")
                converted[key] = _coreml_bytes(cfg)
            weights_bytes, kind = converted[key], "measured (Core ML palettize4 package)"
        step_s = estimate_npu_seconds(flops, weights_bytes + denoiser_activation_bytes(cfg))
        rows.append({"model": f"mobile-0.6b {label}", "denoiser params (M)": den_params / 1e6,
                     "denoiser TFLOPs / call": flops / 1e12, "4-bit denoiser MB": weights_bytes / 1e6,
                     "4-bit size is": kind, "NPU ESTIMATE s / 4-step video (denoiser)": STEPS * step_s,
                     "vae_decoder params (M)": dec_params / 1e6, "vae_decoder TFLOPs / clip": dec_flops / 1e12,
                     "latent": f"{d.num_frames}x{d.in_channels}x{d.latent_height}x{d.latent_width}"})
    return rows


def _decoder_flops_meta(cfg: ModelConfig) -> int:
    d = cfg.denoiser
    with torch.device("meta"):
        vae = VideoVAE(cfg.vae)
    return decoder_flops(vae, d.num_frames, (d.in_channels, d.latent_height, d.latent_width))


def _coreml_bytes(cfg: ModelConfig) -> int:
    from collections import OrderedDict

    from mobilevid.export.components import Component, DenoiserExport
    from mobilevid.export.coreml_target import export_coreml

    d = cfg.denoiser
    torch.manual_seed(0)
    module = DenoiserExport(VideoUNet(d), cfg.fps).eval()
    with torch.no_grad():  # zero-initialised layers would be folded away and understate the size
        for p in module.parameters():
            if p.dim() > 1 and not p.any():
                p.normal_(0.0, 0.02)
    sample = OrderedDict(sample=torch.randn(1, d.num_frames, d.in_channels, d.latent_height, d.latent_width),
                         timestep=torch.tensor([500.0]),
                         text_states=torch.randn(1, cfg.text_max_length, d.cross_attention_dim),
                         text_mask=torch.ones(1, cfg.text_max_length), pooled_text=torch.randn(1, d.pooled_text_dim))
    out = Path(tempfile.mkdtemp(prefix="prune-coreml-"))
    try:
        files = export_coreml(Component("denoiser", module, [sample], ("velocity",)), "palettize4", out)
        return sum(f.stat().st_size for name in files for f in (out / name).rglob("*") if f.is_file())
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="the unpruned model folder or built-in name (default: the "
                        "default model, which is itself pruned; the README's figures use the unpruned student, runs/student/model)")
    parser.add_argument("--decoder-ratios", type=float, nargs="*", default=[0.5, 0.75])
    parser.add_argument("--denoiser-ratios", type=float, nargs="*", default=[0.25, 0.5])
    parser.add_argument("--recovered", nargs="*", default=[], metavar="COMPONENT:RATIO=DIR",
                        help="use a recovered model folder for that row instead of pruning without recovery")
    parser.add_argument("--combined", nargs="*", default=[], metavar="DIR",
                        help="extra rows: model folders pruned in both components (a pruned model pruned again)")
    parser.add_argument("--suite", default="shapes", choices=["shapes", "digits", "photos"])
    parser.add_argument("--prompts", type=int, default=64, help="held-out prompts per eval (default 64: one "
                        "prompt is 1.6 points, so 'within 3 points' tolerates one)")
    parser.add_argument("--runtimes", nargs="*", default=["torch", "onnx", "executorch"],
                        choices=["torch", "onnx", "executorch"])
    parser.add_argument("--runs", type=int, default=5, help="timed rounds per latency (default 5)")
    parser.add_argument("--video-prompts", type=int, default=4, help="videos per timed pipeline call (default 4)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads of every runtime (default 1)")
    parser.add_argument("--no-mobile", action="store_true", help="skip the mobile-0.6b rows")
    parser.add_argument("--no-tiny", action="store_true", help="skip the trained tiny model's rows (mobile-0.6b only)")
    parser.add_argument("--coreml", action="store_true", help="measure mobile-0.6b's Core ML 4-bit size (slow)")
    args = parser.parse_args()
    if args.quick:
        args.prompts, args.runs, args.runtimes = min(args.prompts, 4), 2, ["torch"]
    set_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="mobilevid-prune-bench-"))
    start = time.perf_counter()
    tiny: list[dict[str, Any]] = []
    mobile: list[dict[str, Any]] = []

    def extra(done: bool) -> dict[str, Any]:
        return {"mobile_0_6b": mobile, "suite": args.suite, "prompts": args.prompts, "runs": args.runs,
                "threads": args.threads, "seconds": round(time.perf_counter() - start, 1), "complete": done}

    args.models, args.combined_chains = {}, []
    args.checkpoint = lambda rows: write_results("prune", rows, extra(False), args.output, models=args.models)
    try:
        if not args.no_tiny:
            tiny = bench_tiny(args, work)
        else:  # the mobile rows still follow the --combined folders' pruning chains
            args.combined_chains = [[(r["component"], r["ratio"]) for r in combined_chain(Path(f))]
                                    for f in args.combined]
        if not args.no_mobile:
            mobile = bench_mobile(args)
            args.models.update({r["model"]: None for r in mobile})  # random weights
        final = extra(True)
        written = write_results("prune", tiny, final, args.output, models=args.models)  # hashes the folders
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cols: list[str] = []
    for r in tiny:
        cols += [k for k in r if k not in cols and k != "num_prompts"]
    if tiny:
        print(f"\n# Pruned vs unpruned ({args.suite}, {args.prompts} prompts, {args.threads} thread(s))\n")
        print(markdown_table(tiny, cols))
    if mobile:
        print("\n# mobile-0.6b (random weights; NPU figures are ESTIMATES, roofline)\n")
        print(markdown_table(mobile))
    if tiny:
        print("\n# Acceptance (each pruned row against the unpruned one)\n")
    for r in tiny[1:]:
        worst = min((v for k, v in r.items() if k.startswith("Δ ")), default=0.0)
        verdicts = [f"video {r['video speed-up']:.2f}x ({'PASS' if r['video speed-up'] >= TARGET_VIDEO else 'FAIL'}"
                    f" >= {TARGET_VIDEO}x)",
                    f"worst accuracy change {worst:+.3f} ({'PASS' if worst >= -TARGET_POINTS else 'FAIL'} within 3 points)"]
        # The decode target names no runtime: each measured one gets its verdict (ExecuTorch is what the phone runs).
        decode = []
        for runtime in ("torch", *(RUNTIMES[n][2] for n in args.runtimes if n != "torch")):
            dec = r.get(f"vae_decoder {runtime} speed-up")
            if isinstance(dec, float):
                decode.append(f"decode {dec:.2f}x in {runtime} ({'PASS' if dec >= TARGET_DECODE else 'FAIL'} >= 3x)")
        verdicts = decode + verdicts
        print(f"- {r['model']}: " + "; ".join(verdicts))
    print(f"\nwrote {written} ({final['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
