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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="FILE", help="write the metrics as JSON (one key per metric)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mobilevid.artifacts import write_json
    from mobilevid.errors import MobilevidError
    from mobilevid.eval.suite import evaluate_model, format_metrics
    from mobilevid.pipeline import Pipeline

    if args.prompts < 2:
        raise MobilevidError(f"--prompts must be at least 2 (FD-EffNet needs a spread), got {args.prompts}")
    if args.steps is not None and args.steps < 1:
        raise MobilevidError(f"--steps must be at least 1, got {args.steps}")
    pipe = Pipeline.from_pretrained(args.model)
    metrics = evaluate_model(pipe, args.suite, args.prompts, args.steps, args.guidance, args.seed)
    name = f"{args.model or 'default'} ({args.suite})"
    print(format_metrics({name: metrics}))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        write_json(args.json, {"suite": args.suite, "model": args.model or "default", **metrics})
        print(f"wrote {args.json}")
    return 0
