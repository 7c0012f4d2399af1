"""``mobilevid eval``: held-out prompts -> generated videos -> exact scores, flicker, FD-EffNet, time."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="score a model on a built-in held-out suite",
        description="Generate the held-out prompts of a built-in suite (caption combinations never seen in "
        "training) and score the videos: shapes (colour, shape, motion accuracy), digits (digit and "
        "direction accuracy), photos (camera-motion accuracy); every suite also reports VBench temporal "
        "flickering, FD-EffNet (a Frechet distance on EfficientNet-Lite0 features; not FID) and seconds "
        "per video. Prints a Markdown table.",
    )
    p.add_argument("--model", metavar="DIR", help="model folder, or a built-in model: default (the 4-step student) or teacher (default: default)")
    p.add_argument("--suite", required=True, choices=["shapes", "digits", "photos"], help="which held-out suite")
    p.add_argument("--prompts", type=int, default=64, help="number of held-out prompts (default 64)")
    p.add_argument("--steps", type=int, help="sampling steps (default: the model's)")
    p.add_argument("--guidance", type=float, help="guidance scale (default: the model's)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0); prompt i uses seed + i")
    p.add_argument("--json", metavar="FILE", help="write the metrics as JSON (one key per metric)")
    p.add_argument("--overwrite", action="store_true", help="replace the --json file if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mobilevid.artifacts import write_json
    from mobilevid.errors import MobilevidError
    from mobilevid.eval.suite import evaluate_model, format_metrics
    from mobilevid.output_paths import check_output_file
    from mobilevid.pipeline import Pipeline
    from mobilevid.sampling import check_seed

    if args.prompts < 2:
        raise MobilevidError(f"--prompts must be at least 2 (FD-EffNet needs a spread), got {args.prompts}")
    if args.steps is not None and not 1 <= args.steps <= 10_000:  # more only exhausts memory making the schedule
        raise MobilevidError(f"--steps must be between 1 and 10000, got {args.steps}")
    check_seed(args.seed, args.prompts)
    if args.json:
        check_output_file(args.json, args.overwrite, "--json file")
    pipe = Pipeline.from_pretrained(args.model)
    metrics = evaluate_model(pipe, args.suite, args.prompts, args.steps, args.guidance, args.seed)
    name = f"{args.model or 'default'} ({args.suite})"
    print(format_metrics({name: metrics}))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)  # missing folders are created, as for every output
        write_json(args.json, {"suite": args.suite, "model": args.model or "default", **metrics})
        print(f"wrote {args.json}")
    return 0
