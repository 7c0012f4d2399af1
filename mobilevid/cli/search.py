"""``mobilevid search lut|supernet|evolve``: hardware-aware search of the temporal layers (SnapGen-V)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

RUNTIMES = ("executorch", "onnxruntime", "torch", "coreml")  # mobilevid.search.cost_table.RUNTIMES (cheap import)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "search",
        help="search the temporal layers under a latency budget: cost table, supernet, evolution",
        description="The search loop of SnapGen-V: `lut` measures what every temporal candidate costs in every "
        "slot on a runtime, `supernet` trains one weight-sharing model holding every candidate (backbone frozen), "
        "`evolve` searches the slot assignments for the best proxy quality within a latency (and memory) budget "
        "and writes arch.json for `mobilevid train --set arch=arch.json`. See search/README.md.",
    )
    sub = p.add_subparsers(dest="search_command", metavar="STEP", required=True, parser_class=type(p))

    lut = sub.add_parser(
        "lut", help="measure the cost table (latency, memory, FLOPs per slot and candidate)",
        description="Export and time, in isolation at its real shape, every candidate in every slot where it is "
        "allowed, each spatial unit and the backbone (warm-up, then median and p90 of --runs with the outer 10 %% "
        "dropped), with FLOPs and memory; then check the additive model on random archs (predicted = backbone + "
        "sum of entries, against the whole denoiser measured on the same runtime). --runtime coreml writes a "
        "probe bundle of per-candidate Core ML models for the demo app to time; --device-json reads back what "
        "a device measured, in the table's keyed schema.")
    src = lut.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", metavar="DIR", help="model folder (or built-in name: default, teacher)")
    src.add_argument("--preset", choices=["tiny", "small", "mobile-0.6b"], help="model preset")
    lut.add_argument("--runtime", required=True, choices=RUNTIMES, help="where entries are timed")
    lut.add_argument("--quantize", default="none", choices=["none", "w8a8"],
                     help="w8a8: PT2E int8 (executorch) or QDQ int8 (onnxruntime) (default none)")
    lut.add_argument("--device-json", metavar="FILE",
                     help="a device's measurement in the table's schema (e.g. the demo app's timing of the probe "
                     "bundle): fills the timings instead of measuring here")
    lut.add_argument("--runs", type=int, default=20, help="timed runs per entry (default 20)")
    lut.add_argument("--warmup", type=int, default=3, help="untimed runs first (default 3)")
    lut.add_argument("--threads", type=int, default=1,
                     help="intra-op threads of the runtime (default 1: stable numbers on a shared machine)")
    lut.add_argument("--check-archs", type=int, default=3, metavar="N",
                     help="random archs (besides the largest) for the additive-model check; 0 skips it (default 3)")
    lut.add_argument("--candidates", default=None, metavar="A,B,...",
                     help="time only these candidates (default: all; the supernet's must be among them)")
    lut.add_argument("--seed", type=int, default=0, help="seed of the random inputs and check archs")
    lut.add_argument("--output", "-o", required=True, metavar="FILE", help="the table (JSON)")
    lut.add_argument("--overwrite", action="store_true", help="replace an existing table")
    lut.set_defaults(func=run_lut)

    sup = sub.add_parser(
        "supernet", help="train the weight-sharing supernet over the temporal candidates",
        description="Every slot holds every allowed candidate (and 'none'); each step trains the largest, the "
        "smallest and --set random_subnets=N random sub-architectures on the same batch (the sandwich rule of "
        "BigNAS / Once-for-All), with the spatial backbone frozen. Runs under `accelerate launch` on several "
        "processes; killed runs continue exactly with --resume.")
    sup.add_argument("--model", required=True, metavar="TEACHER", help="teacher model folder (or built-in: teacher)")
    sup.add_argument("--data", default=None, help="training clips (default shapes+digits+photos)")
    sup.add_argument("--recipe", metavar="FILE", help="YAML/JSON recipe (mobilevid.search.supernet.SupernetConfig)")
    sup.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a recipe field, e.g. --set candidates=[temporal_conv,temporal_attention]")
    sup.add_argument("--output", "-o", required=True, metavar="DIR", help="run folder (the supernet goes to DIR/supernet)")
    sup.add_argument("--max-steps", type=int, default=None, metavar="N", help="training steps (default 2000)")
    sup.add_argument("--checkpoint-every", type=int, default=None, metavar="N", help="checkpoint every N steps")
    sup.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    sup.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output")
    sup.set_defaults(func=run_supernet)

    evo = sub.add_parser(
        "evolve", help="evolutionary search for the best arch within a latency / memory budget",
        description="Regularised evolution with Once-for-All's mutation and crossover over slot assignments. "
        "Only archs the cost table puts within budget are evaluated; fitness is the flow-matching loss on fixed "
        "held-out clips, noise and levels with weights inherited from the supernet. Writes arch.json, log.jsonl "
        "(every evaluated arch), pareto.png and model/ (the arch with its inherited weights). Deterministic for "
        "a seed; a killed search resumes from its log with --resume; under `accelerate launch` the evaluations "
        "of a generation are split across processes.")
    evo.add_argument("--supernet", required=True, metavar="DIR", help="a `search supernet` output folder")
    evo.add_argument("--lut", required=True, metavar="FILE", help="a cost table from `search lut`")
    evo.add_argument("--latency-budget", required=True, type=float, metavar="MS",
                     help="predicted denoiser latency budget (ms, on the table's runtime)")
    evo.add_argument("--memory-budget", type=float, default=None, metavar="MB", help="predicted memory budget")
    evo.add_argument("--population", type=int, default=100, help="population size (default 100, Once-for-All)")
    evo.add_argument("--generations", type=int, default=30, help="generations after the first (default 30, HAT)")
    evo.add_argument("--parent-ratio", type=float, default=0.25, help="share of parents (default 0.25)")
    evo.add_argument("--mutation-ratio", type=float, default=0.5,
                     help="share of mutants among the population (default 0.5; the rest are crossovers)")
    evo.add_argument("--mutation-prob", type=float, default=0.1, help="per-slot mutation probability (default 0.1)")
    evo.add_argument("--proxy-data", default="shapes+digits+photos", help="held-out clips for the proxy")
    evo.add_argument("--proxy-clips", type=int, default=8, help="held-out clips (default 8)")
    evo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    evo.add_argument("--output", "-o", required=True, metavar="DIR", help="search folder")
    evo.add_argument("--resume", action="store_true", help="continue the search logged in --output")
    evo.set_defaults(func=run_evolve)

    pred = sub.add_parser(
        "predict", help="an arch's latency and memory by the table, against a measured profile",
        description="Predict an arch spec's denoiser latency and memory from a cost table; with --profile (the "
        "JSON of `mobilevid profile --json` for a bundle of that arch, on the table's runtime) print the measured "
        "denoiser latency and the table's error: the last step of the closed loop.")
    pred.add_argument("--lut", required=True, metavar="FILE", help="a cost table from `search lut`")
    pred.add_argument("--arch", required=True, metavar="FILE", help="an arch spec (e.g. `search evolve`'s arch.json)")
    pred.add_argument("--profile", metavar="FILE", help="`mobilevid profile --json` output of the arch's bundle")
    pred.add_argument("--measure", action="store_true",
                      help="also export and time the whole denoiser with this arch here, on the table's runtime "
                      "and threads (random weights: latency only)")
    pred.add_argument("--runs", type=int, default=20, help="timed runs with --measure (default 20)")
    pred.set_defaults(func=run_predict)


def run_lut(args: argparse.Namespace) -> int:
    from mobilevid.artifacts import atomic_dir, write_json
    from mobilevid.errors import MobilevidError
    from mobilevid.search.cost_table import build_table, check_runtime, model_config_for

    check_runtime(args.runtime, args.quantize)
    from mobilevid.output_paths import check_output_file

    out = check_output_file(args.output, args.overwrite, "cost table")  # a folder is never replaced
    if args.device_json is not None and not Path(args.device_json).is_file():
        raise MobilevidError(f"device measurement not found: {args.device_json}")
    if args.threads is not None and args.threads < 1:
        raise MobilevidError(f"--threads must be at least 1, got {args.threads}")
    model_cfg, source = model_config_for(args.model, args.preset)
    from mobilevid.models.arch_spec import CANDIDATES
    from mobilevid.search.space import SearchSpace

    names = CANDIDATES if args.candidates is None else [c.strip() for c in args.candidates.split(",") if c.strip()]
    space = SearchSpace(model_cfg.denoiser, names)
    out.parent.mkdir(parents=True, exist_ok=True)
    probe = out.parent / f"{out.stem}.coreml-probe"
    if args.runtime == "coreml" and args.device_json is None:
        with atomic_dir(probe, args.overwrite, "probe.json", "Core ML probe bundle") as tmp:
            table = build_table(model_cfg, source, args.runtime, args.quantize, args.runs, args.warmup, args.threads,
                                0, args.seed, space=space, probe_dir=tmp, log=print)
        table["probe_bundle"] = probe.name
    else:
        table = build_table(model_cfg, source, args.runtime, args.quantize, args.runs, args.warmup, args.threads,
                            args.check_archs, args.seed, space=space, device_json=args.device_json, log=print)
    write_json(out, table)
    print(f"cost table: {out} ({len(table['entries'])} entries + backbone, runtime {table['runtime']})")
    if table["measured"]:
        print(f"backbone {table['backbone']['median_ms']:.3f} ms; spatial units sum {table['spatial_sum_ms']:.3f} ms")
    check = table.get("additive_check")
    if check:
        for row in check["archs"]:
            print(f"  {row['name']}: predicted {row['predicted_ms']:.3f} ms, measured {row['measured_ms']:.3f} ms "
                  f"({100 * row['error']:+.1f} %); CPU time {row['predicted_cpu_ms']:.3f} vs "
                  f"{row['measured_cpu_ms']:.3f} ms ({100 * row['cpu_error']:+.1f} %); memory "
                  f"{row['predicted_memory_mb']:.1f} vs {row['measured_memory_mb']:.1f} MB")
        print(f"additive model: mean |error| {100 * check['mean_abs_error']:.1f} %, "
              f"max {100 * check['max_abs_error']:.1f} %; CPU time mean |error| "
              f"{100 * check['mean_abs_cpu_error']:.1f} %")
    if table.get("probe_bundle"):
        print(f"Core ML probe bundle: {probe} (time it on the device, then: mobilevid search lut ... "
              f"--device-json FILE)")
    return 0


def run_supernet(args: argparse.Namespace) -> int:
    from mobilevid.config import resolve_config
    from mobilevid.errors import MobilevidError
    from mobilevid.search.supernet import SupernetConfig, train_supernet

    overrides = list(args.overrides)
    for flag, key in (("data", "data"), ("seed", "seed"), ("checkpoint_every", "checkpoint_every"),
                      ("max_steps", "steps")):
        value = getattr(args, flag)
        if value is not None:
            if flag in ("max_steps", "checkpoint_every") and value < 1:
                raise MobilevidError(f"--{flag.replace('_', '-')} must be at least 1, got {value}")
            overrides.append(f"{key}={value}")
    cfg = resolve_config(SupernetConfig, recipe=args.recipe, overrides=overrides)
    print(f"supernet: {train_supernet(cfg, args.model, args.output, resume=args.resume, argv=sys.argv)}")
    return 0


def run_evolve(args: argparse.Namespace) -> int:
    from mobilevid.errors import MobilevidError
    from mobilevid.search.evolution import EvolutionSettings
    from mobilevid.search.evolve_run import run_evolve as evolve

    if not Path(args.lut).is_file():
        raise MobilevidError(f"cost table not found: {args.lut}")
    if args.proxy_clips < 1:
        raise MobilevidError(f"--proxy-clips must be at least 1, got {args.proxy_clips}")
    settings = EvolutionSettings(args.latency_budget, args.memory_budget, args.population, args.parent_ratio,
                                 args.mutation_ratio, args.mutation_prob, args.generations, args.seed)
    summary = evolve(args.supernet, args.lut, settings, args.output, args.resume, args.proxy_data, args.proxy_clips)
    print(f"searched arch: {Path(args.output) / 'arch.json'} (table {summary['latency_ms']:.3f} ms, "
          f"{summary['memory_mb']:.1f} MB, proxy {summary['proxy']:.6f}; {summary['evaluated']} archs evaluated, "
          f"{summary['front']} on the front)")
    for ref in summary["references"]:
        print(f"  {ref['name']}: table {ref['latency_ms']:.3f} ms, proxy {ref['proxy']:.6f}"
              f"{'' if ref['within_budget'] else ' (over budget)'}")
    print(f"model with inherited weights: {Path(args.output) / 'model'}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from mobilevid.config import from_dict
    from mobilevid.models.arch_spec import load_arch
    from mobilevid.models.unet_config import VideoUNetConfig
    from mobilevid.search.cost_table import load_table, predict
    from mobilevid.search.space import SearchSpace

    table = load_table(args.lut)
    spec = load_arch(args.arch)
    space = SearchSpace(from_dict(VideoUNetConfig, table["model"]["denoiser"]))
    pred = predict(table, space.from_spec(spec))
    print(f"table ({table['runtime']}, {table['quantize']}): {pred['latency_ms']:.3f} ms, {pred['memory_mb']:.1f} MB")
    if args.measure:
        from mobilevid.search.cost_table import measure_arch

        measured = measure_arch(table, spec, args.runs)
        err = pred["latency_ms"] / measured["median_ms"] - 1
        print(f"measured here ({table['runtime']}): {measured['median_ms']:.3f} ms (p90 {measured['p90_ms']:.3f}), "
              f"{measured['peak_memory_bytes'] / 2**20:.1f} MB; table error {100 * err:+.1f} %")
        from mobilevid.search.cost_table import predict_cpu_ms

        cpu = predict_cpu_ms(table, space.from_spec(spec))
        if cpu is not None:
            print(f"CPU time: table {cpu:.3f} ms, measured {measured['cpu_median_ms']:.3f} ms; table error "
                  f"{100 * (cpu / measured['cpu_median_ms'] - 1):+.1f} %")
    if args.profile:
        from mobilevid.export.device_json import load_device_profile

        profile = load_device_profile(args.profile)
        den = profile["components"].get("denoiser")
        if den is None:
            from mobilevid.errors import MobilevidError

            raise MobilevidError(f"{args.profile} has no denoiser component")
        err = pred["latency_ms"] / den["median_ms"] - 1
        print(f"measured ({profile.get('runtime')}): {den['median_ms']:.3f} ms; table error {100 * err:+.1f} %")
    return 0

