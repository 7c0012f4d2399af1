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
    p.add_argument("--output", "-o", required=True, metavar="DIR",
                   help="run folder (the student goes to DIR/model): new or empty (missing parent folders are "
                   "created); a run that fails before its first checkpoint removes what it wrote there")
    p.add_argument("--data", default=None, help="training clips: built-in set(s) or a folder (default shapes+digits+photos)")
    p.add_argument("--steps", type=int, default=None, help="student sampling steps (default 4)")
    p.add_argument("--recipe", metavar="FILE",
                   help="YAML/JSON recipe; a recipe of 'phases' runs several distillations in a row, each "
                   "warm-started from the student of the one before (distill/recipes/student.yaml rebuilds the "
                   "built-in default model), and --set then applies to every phase")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field (repeatable)")
    p.add_argument("--max-steps", type=int, default=None, metavar="N", help="training iterations")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --output if it is an earlier distill run folder (run.json); the old one is removed "
                   "when the new run ends, and kept if the new one fails before its first checkpoint")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mobilevid.config import resolve_config
    from mobilevid.distillation.distill import distill, distill_phases
    from mobilevid.distillation.distill_config import DistillConfig
    from mobilevid.errors import MobilevidError
    from mobilevid.training.phases import read_phases
    from mobilevid.training.run_setup import check_run_folder, run_folder

    check_run_folder(args.output, "distill", args.resume, args.overwrite)
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
    phases = read_phases(DistillConfig, args.recipe, overrides) if args.recipe else None
    if phases is not None:
        with run_folder(args.output, "distill", args.resume, args.overwrite):
            print(f"student: {distill_phases(phases, args.teacher, args.output, resume=args.resume, argv=sys.argv)}")
        return 0
    cfg = resolve_config(DistillConfig, recipe=args.recipe, overrides=overrides)
    with run_folder(args.output, "distill", args.resume, args.overwrite):
        print(f"student: {distill(cfg, args.teacher, args.output, resume=args.resume, argv=sys.argv)}")
    return 0
