"""Searched temporal layers against hand-written ones, in one run (SnapGen-V's search, `mobilevid search`).

    python benchmarks/search.py [--model teacher] [--lut lut.json] [--supernet DIR] [--budgets MS MS |
        --budget-fractions 0.64 0.8] [--finetune-steps 100] [--suite shapes] [--prompts 8] [--work DIR] [--quick]

Rows: the arch `mobilevid search evolve` finds at two latency budgets, the built-in arch of the
model, all candidates in every allowed slot, and temporal convolution alone (the reference archs
of the search space the supernet covers). Per row:

- table latency: the cost table's prediction (backbone + the arch's temporal entries);
- measured latency: the whole denoiser with that arch exported and timed on the table's runtime
  (ExecuTorch XNNPACK fp32 for an ExecuTorch table), by the table's own rule and threads
  (``cost_table.measure_arch``, as ``mobilevid search predict --measure``), and the table's error;
- parameters of the denoiser;
- validation loss: the flow-matching loss on fixed held-out clips, noise and levels
  (``HeldoutFlowLoss``, the search's proxy, on more clips) of the arch started from the model
  (``init_from`` + ``arch``: the layers it shares with the model keep their weights, new ones
  start as identity) before and after the SAME number of fine-tune steps
  (``search/recipes/finetune_searched.yaml``);
- the eval-suite accuracies of the fine-tuned model on ``--prompts`` held-out prompts.

Without ``--lut`` / ``--supernet`` the benchmark measures a table (``--runtime``) and trains a
supernet (``search/recipes/supernet_tiny.yaml``, ``--supernet-steps``) first. Every step runs in
its own process (the ``mobilevid`` commands users run); with ``--work DIR`` a killed run
continues where it stopped (finished steps are kept in DIR).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import REPO, benchmark_parser, log, markdown_table, write_results

SEARCH_CANDIDATES = ["temporal_conv", "temporal_attention", "spatiotemporal_attention"]  # supernet_tiny.yaml's
TARGET_SPEEDUP, TARGET_LOSS, TARGET_TABLE = 1.5, 0.02, 0.15
REFERENCE = "all candidates"


def _run(cmd: list[str], log_file: Path) -> None:
    """A step in its own process; its output goes to ``log_file`` (the last lines are shown on failure)."""
    log(" ".join(cmd))
    with open(log_file, "w") as handle:
        done = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO)
    if done.returncode != 0:
        tail = log_file.read_text(errors="replace").replace("\r", "\n").splitlines()[-15:]
        raise SystemExit(f"step failed ({done.returncode}): {' '.join(cmd)}\n" + "\n".join(tail))


def _mobilevid(*args: str) -> list[str]:
    return [sys.executable, "-m", "mobilevid.cli.main", *args]


# -- one row, in its own process ------------------------------------------------------------------------
def measure_row(lut: str, arch_file: str, start_model: str, tuned_model: str, suite: str, prompts: int,
                clips: int, runs: int) -> dict[str, Any]:
    """Measured latency, parameters, validation loss before/after fine-tuning and eval accuracies of one arch."""
    import dataclasses

    import torch

    from mobilevid.artifacts import read_json
    from mobilevid.eval.suite import evaluate_model
    from mobilevid.models.video_unet import VideoUNet
    from mobilevid.pipeline import Pipeline, resolve_model_dir
    from mobilevid.search.cost_table import load_table, measure_arch
    from mobilevid.search.evolution import HeldoutFlowLoss
    from mobilevid.training.train import load_starting_weights

    table = load_table(lut)
    spec = read_json(arch_file)
    measured = measure_arch(table, spec, runs)
    tuned = Pipeline.from_pretrained(tuned_model)
    loss = HeldoutFlowLoss(tuned, None, "shapes+digits+photos", clips, seed=0)
    # The arch as fine-tuning starts it (the same weights `train --set init_from --set arch` loads).
    torch.manual_seed(0)
    start = VideoUNet(dataclasses.replace(tuned.denoiser.config, arch=spec))
    load_starting_weights(start, resolve_model_dir(start_model) / "denoiser" / "model.safetensors")
    row = {"measured_ms": measured["median_ms"], "measured_p90_ms": measured["p90_ms"],
           "measured_cpu_ms": measured["cpu_median_ms"],
           "params": sum(p.numel() for p in tuned.denoiser.parameters()),
           "val_loss_start": loss.loss(start), "val_loss": loss.loss(tuned.denoiser)}
    del start
    metrics = evaluate_model(tuned, suite, prompts, seed=0, progress=False)
    row.update({f"{suite} {k}": v for k, v in metrics.items() if k.endswith("accuracy")})
    return row


# -- the run -------------------------------------------------------------------------------------------
def _table_and_supernet(args: argparse.Namespace, work: Path) -> tuple[Path, Path]:
    lut = Path(args.lut) if args.lut else work / "lut.json"
    if not lut.is_file():
        cmd = _mobilevid("search", "lut", "--model", args.model, "--runtime", args.runtime, "--threads", "1",
                         "--candidates", ",".join(args.candidates), "--check-archs", "0", "-o", str(lut))
        if args.quick:
            cmd += ["--runs", "3", "--warmup", "1"]
        _run(cmd, work / "lut.log")
    supernet = Path(args.supernet) if args.supernet else work / "supernet"
    if not (supernet / "supernet" / "model_index.json").is_file() and not (supernet / "model_index.json").is_file():
        cmd = _mobilevid("search", "supernet", "--model", args.model, "--recipe",
                         str(REPO / "search" / "recipes" / "supernet_tiny.yaml"),
                         "--set", f"candidates=[{','.join(args.candidates)}]",
                         "--max-steps", str(args.supernet_steps), "--checkpoint-every", str(args.supernet_steps),
                         "-o", str(supernet))
        if args.quick:
            cmd += ["--set", "data=shapes"]
        if supernet.exists() and any(supernet.iterdir()):
            cmd.append("--resume")
        _run(cmd, work / "supernet.log")
    return lut, supernet


def _budgets(args: argparse.Namespace, table: dict[str, Any], space: Any) -> list[float]:
    from mobilevid.search.cost_table import predict

    if args.budgets:
        return sorted(args.budgets)
    largest = predict(table, space.largest())["latency_ms"]
    return sorted(round(f * largest, 3) for f in args.budget_fractions)


def _search(args: argparse.Namespace, work: Path, lut: Path, supernet: Path, budget: float) -> Path:
    out = work / f"search_{budget:g}"
    if not (out / "summary.json").is_file():
        cmd = _mobilevid("search", "evolve", "--supernet", str(supernet), "--lut", str(lut), "--latency-budget",
                         f"{budget}", "--population", str(args.population), "--generations", str(args.generations),
                         "--proxy-clips", str(args.proxy_clips), "--proxy-data",
                         "shapes" if args.quick else "shapes+digits+photos", "-o", str(out))
        if out.exists() and any(out.iterdir()):
            cmd.append("--resume")
        _run(cmd, work / f"search_{budget:g}.log")
    return out


def _finetune(args: argparse.Namespace, work: Path, name: str, arch_file: Path) -> Path:
    out = work / f"finetune_{name}"
    if not (out / "model" / "model_index.json").is_file():
        cmd = _mobilevid("train", "--recipe", str(REPO / "search" / "recipes" / "finetune_searched.yaml"),
                         "--set", f"init_from={args.model}", "--set", f"arch={arch_file}",
                         "--max-steps", str(args.finetune_steps), "--checkpoint-every", str(args.finetune_steps),
                         "-o", str(out))
        if args.quick:
            cmd += ["--set", "data=shapes", "--set", "denoiser.batch_size=1"]
        if out.exists() and any(out.iterdir()):
            cmd.append("--resume")
        _run(cmd, work / f"finetune_{name}.log")
    return out / "model"


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def run(args: argparse.Namespace, work: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from mobilevid.artifacts import read_json, write_json
    from mobilevid.pipeline import resolve_model_dir
    from mobilevid.search.cost_table import load_table, predict, predict_cpu_ms
    from mobilevid.search.evolution import reference_archs
    from mobilevid.search.supernet import load_space

    lut, supernet = _table_and_supernet(args, work)
    table = load_table(lut)
    root = supernet if (supernet / "space.json").is_file() else supernet.parent
    model_cfg = read_json(resolve_model_dir(args.model) / "model_index.json")
    from mobilevid.config import from_dict
    from mobilevid.models.unet_config import VideoUNetConfig

    space = load_space(root, from_dict(VideoUNetConfig, model_cfg["denoiser"]))
    budgets = _budgets(args, table, space)
    archs: list[tuple[str, dict[str, Any], dict[str, Any]]] = []  # (row name, arch spec, search facts)
    for label, budget in zip(("tighter", "looser"), budgets, strict=False):
        found = _search(args, work, lut, supernet, budget)
        summary = read_json(found / "summary.json")
        archs.append((f"searched, {budget:g} ms budget ({label})", read_json(found / "arch.json"),
                      {"budget_ms": budget, "proxy": summary["proxy"], "evaluated": summary["evaluated"],
                       "search_dir": found.name}))
    for name, arch in reference_archs(space, model_cfg["denoiser"]["arch"]):
        if name in ("built-in arch", REFERENCE, "temporal conv only"):
            archs.append((name, space.to_spec(arch, name=_slug(name)), {}))
    (work / "archs").mkdir(exist_ok=True)
    rows = []
    for name, spec, facts in archs:
        arch = space.from_spec(spec)
        arch_file = work / "archs" / f"{_slug(name)}.json"
        write_json(arch_file, spec)
        pred = predict(table, arch)
        row = {"arch": name, "slots": space.key(arch), "table_ms": pred["latency_ms"],
               "table_cpu_ms": predict_cpu_ms(table, arch), "table_memory_mb": pred["memory_mb"], **facts}
        cached = work / "rows" / f"{_slug(name)}.json"
        if cached.is_file():
            row.update(read_json(cached))
        else:
            tuned = _finetune(args, work, _slug(name), arch_file)
            log(f"{name}: measure ({table['runtime']}), validation loss, eval {args.suite} ({args.prompts} prompts)")
            cmd = [sys.executable, __file__, "--row", str(lut), str(arch_file), args.model, str(tuned), args.suite,
                   str(args.prompts), str(args.val_clips), str(args.runs)]
            row_log = work / f"row_{_slug(name)}.log"
            _run(cmd, row_log)
            lines = row_log.read_text(errors="replace").replace("\r", "\n").splitlines()
            measured = json.loads(next(line for line in reversed(lines) if line.startswith("{")))
            cached.parent.mkdir(exist_ok=True)
            write_json(cached, measured)
            row.update(measured)
        row["table_error"] = row["table_ms"] / row["measured_ms"] - 1
        if row["table_cpu_ms"] is not None:
            row["table_cpu_error"] = row["table_cpu_ms"] / row["measured_cpu_ms"] - 1
        rows.append(row)
        log(f"{name}: {row}")
    ref = next(r for r in rows if r["arch"] == REFERENCE)
    for row in rows:
        row[f"speed-up vs {REFERENCE}"] = ref["measured_ms"] / row["measured_ms"]
        row[f"cpu speed-up vs {REFERENCE}"] = ref["measured_cpu_ms"] / row["measured_cpu_ms"]
        row[f"val loss vs {REFERENCE}"] = row["val_loss"] / ref["val_loss"] - 1
    extra = {"runtime": table["runtime"], "threads": table.get("threads"), "lut": str(lut),
             "lut_created_at": table.get("created_at"), "supernet": str(supernet), "budgets_ms": budgets,
             "candidates": sorted({c for s in space.slots for c in s.candidates}), "finetune_steps": args.finetune_steps,
             "finetune_recipe": "search/recipes/finetune_searched.yaml", "init_from": args.model,
             "val_loss": f"held-out flow-matching loss, {args.val_clips} clips of shapes+digits+photos, fixed noise "
                         "and levels t_i = (i + 0.5) / clips (HeldoutFlowLoss)",
             "suite": args.suite, "prompts": args.prompts, "runs": args.runs,
             "evolve": {"population": args.population, "generations": args.generations,
                        "proxy_clips": args.proxy_clips}}
    return rows, extra


def acceptance(rows: list[dict[str, Any]]) -> list[str]:
    """The issue's acceptance points, as measured in this run."""
    ref = next(r for r in rows if r["arch"] == REFERENCE)
    searched = [r for r in rows if r["arch"].startswith("searched")]
    lines = []
    if searched:
        tight = searched[0]
        speed, loss = tight[f"speed-up vs {REFERENCE}"], tight[f"val loss vs {REFERENCE}"]
        lines.append(f"- {tight['arch']}: measured {tight['measured_ms']:.2f} ms vs {ref['measured_ms']:.2f} ms for "
                     f"{REFERENCE}: {speed:.2f}x ({'PASS' if speed >= TARGET_SPEEDUP else 'FAIL'} >= "
                     f"{TARGET_SPEEDUP}x; CPU time {tight[f'cpu speed-up vs {REFERENCE}']:.2f}x); validation loss "
                     f"{tight['val_loss']:.5f} vs {ref['val_loss']:.5f}: {100 * loss:+.2f} % "
                     f"({'PASS' if loss <= TARGET_LOSS else 'FAIL'} within {100 * TARGET_LOSS:.0f} %)")
    for r in searched:
        err = r["table_error"]
        cpu = r.get("table_cpu_error")
        lines.append(f"- {r['arch']}: table {r['table_ms']:.2f} ms vs measured {r['measured_ms']:.2f} ms: "
                     f"{100 * err:+.1f} % ({'PASS' if abs(err) <= TARGET_TABLE else 'FAIL'} within "
                     f"{100 * TARGET_TABLE:.0f} %)" + ("" if cpu is None else f"; CPU-time sum {100 * cpu:+.1f} %"))
    return lines


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default="teacher", help="the model searched and fine-tuned (default: teacher)")
    parser.add_argument("--lut", default=None, help="a cost table (`mobilevid search lut`); default: measure one")
    parser.add_argument("--runtime", default=None, choices=["executorch", "onnxruntime", "torch"],
                        help="runtime of the table measured without --lut (default executorch: XNNPACK fp32; "
                        "torch with --quick)")
    parser.add_argument("--supernet", default=None, help="a `search supernet` folder; default: train one")
    parser.add_argument("--supernet-steps", type=int, default=40, help="steps of the supernet trained here")
    parser.add_argument("--budgets", type=float, nargs=2, default=None, metavar="MS",
                        help="the two latency budgets (ms, on the table's runtime)")
    parser.add_argument("--budget-fractions", type=float, nargs=2, default=[0.64, 0.8], metavar="F",
                        help="without --budgets: budgets as fractions of all candidates' table latency")
    parser.add_argument("--population", type=int, default=16, help="evolve --population (default 16)")
    parser.add_argument("--generations", type=int, default=4, help="evolve --generations (default 4)")
    parser.add_argument("--proxy-clips", type=int, default=4, help="evolve --proxy-clips (default 4)")
    parser.add_argument("--finetune-steps", type=int, default=100, help="fine-tune steps of every row (default 100)")
    parser.add_argument("--val-clips", type=int, default=32, help="held-out clips of the validation loss")
    parser.add_argument("--suite", default="shapes", choices=["shapes", "digits", "photos"])
    parser.add_argument("--prompts", type=int, default=8, help="held-out prompts of the eval suite (default 8)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each whole denoiser (default 20)")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the steps' outputs; an existing one continues (default: a temporary one)")
    parser.add_argument("--row", nargs=8, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row:
        lut, arch, start, tuned, suite, prompts, clips, runs = args.row
        print(json.dumps(measure_row(lut, arch, start, tuned, suite, int(prompts), int(clips), int(runs))))
        return
    if args.quick:
        args.supernet_steps, args.population, args.generations, args.proxy_clips = 1, 4, 1, 1
        args.finetune_steps, args.val_clips, args.prompts, args.runs = 1, 2, 2, 3
        if not args.budgets:  # an untrained tiny model's backbone may cost more than 0.64x of all candidates
            args.budget_fractions = [0.95, 1.0]
        args.candidates = SEARCH_CANDIDATES[:2]
    else:
        args.candidates = SEARCH_CANDIDATES
    args.runtime = args.runtime or ("torch" if args.quick else "executorch")
    for flag in ("supernet_steps", "population", "finetune_steps", "val_clips", "prompts", "runs", "proxy_clips"):
        if getattr(args, flag) < 1:
            raise SystemExit(f"--{flag.replace('_', '-')} must be at least 1")
    if args.lut and not Path(args.lut).is_file():
        raise SystemExit(f"cost table not found: {args.lut}")
    from mobilevid.pipeline import resolve_model_dir

    resolve_model_dir(args.model)  # a bad --model fails here
    temporary = args.work is None
    work = Path(tempfile.mkdtemp(prefix="mobilevid-search-bench-")) if temporary else args.work
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        rows, extra = run(args, work)
    finally:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)
    extra["seconds"] = round(time.perf_counter() - start, 1)
    extra["acceptance"] = acceptance(rows)
    path = write_results("search", rows, extra, args.output, models={"start": args.model})
    runtime = {"executorch": "ExecuTorch XNNPACK fp32"}.get(extra["runtime"], extra["runtime"])
    cols = ["arch", "table_ms", "measured_ms", "table_error", "measured_cpu_ms", "params", "val_loss_start",
            "val_loss", f"val loss vs {REFERENCE}", f"speed-up vs {REFERENCE}"]
    cols += [k for k in rows[0] if k.startswith(f"{args.suite} ")] + ["slots"]
    print(f"\n# Searched vs hand-written temporal layers ({runtime}, {extra['threads']} thread(s); "
          f"{args.finetune_steps} fine-tune steps from {args.model}; {args.suite}, {args.prompts} prompts)\n")
    print(markdown_table(rows, cols))
    print("\n# Acceptance\n")
    print("\n".join(extra["acceptance"]))
    print(f"\nwrote {path} ({extra['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
