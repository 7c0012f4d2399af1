"""``mobilevid distill``: adversarial distillation of a teacher into a few-step student."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "distill",
        help="distil a teacher into a few-step student without guidance (SnapGen-V / SF-V / LADD)",
        description="Adversarial distillation: the student starts from the teacher and learns to sample in "
        "--steps fixed steps without classifier-free guidance, against a discriminator built from the frozen "
        "teacher's encoder (spatial and temporal heads) plus a pseudo-Huber reconstruction of the guided "
        "teacher's result. Ablations: --set temporal_heads=false, --set recon_weight=0, --set adv_weight=0.",
    )
    p.add_argument("--teacher", required=True, metavar="DIR", help="teacher model folder")
    p.add_argument("--output", "-o", required=True, metavar="DIR", help="run folder (the student goes to DIR/model)")
    p.add_argument("--data", default=None, help="training clips: built-in set(s) or a folder (default shapes+digits+photos)")
    p.add_argument("--steps", type=int, default=None, help="student sampling steps (default 4)")
    p.add_argument("--recipe", metavar="FILE", help="YAML/JSON recipe")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field (repeatable)")
    p.add_argument("--max-steps", type=int, default=None, metavar="N", help="training iterations")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mobilevid.config import resolve_config
    from mobilevid.distillation.distill import distill
    from mobilevid.distillation.distill_config import DistillConfig
    from mobilevid.errors import MobilevidError

    overrides = list(args.overrides)
    if args.data is not None:
        overrides.append(f"data={args.data}")
    if args.steps is not None:
        if args.steps < 1:
            raise MobilevidError(f"--steps must be at least 1, got {args.steps}")
        overrides.append(f"student_steps={args.steps}")
    if args.max_steps is not None:
        if args.max_steps < 1:
            raise MobilevidError(f"--max-steps must be at least 1, got {args.max_steps}")
        overrides.append(f"steps={args.max_steps}")
    cfg = resolve_config(DistillConfig, recipe=args.recipe, overrides=overrides)
    print(f"student: {distill(cfg, args.teacher, args.output, resume=args.resume, argv=sys.argv)}")
    return 0
