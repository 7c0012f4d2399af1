"""``mobilevid prune``: structured channel pruning of the denoiser or the VAE decoder, then recovery."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "prune",
        help="prune the denoiser or the VAE decoder (torch-pruning), then recover it by distillation",
        description="Structured channel pruning through torch-pruning's dependency graph: every coupled channel "
        "group loses --ratio of its channels in whole GroupNorm groups, attention loses whole heads, and the "
        "result is an ordinary model folder whose config holds the new widths (OUTPUT/model). With "
        "--recover-steps N the pruned component is then distilled from the unpruned one for N steps: the "
        "VAE decoder against the unpruned decoder on the frozen encoder's latents (SnapFusion), the "
        "denoiser by matching the unpruned denoiser's output on noised latents of real clips (with "
        "--set recover.trajectory_prob=P, a share P on a distilled student's own sampling states). A killed "
        "recovery continues exactly with --resume. The built-in default model is itself pruned: prune the "
        "unpruned student (distill/recipes/student.yaml) to rebuild it. Recipes: prune/recipes/.",
    )
    p.add_argument("--model", default=None, metavar="DIR",
                   help="model folder or built-in name to prune (default: the built-in default model, already pruned)")
    p.add_argument("--component", choices=["denoiser", "vae_decoder"], default=None,
                   help="what to prune (default vae_decoder)")
    p.add_argument("--ratio", type=float, default=None, metavar="R",
                   help="share of channels removed, in (0, 1); rounded to whole GroupNorm groups (default 0.5)")
    p.add_argument("--importance", default=None, metavar="NAME",
                   help="channel criterion: l1, l2, taylor (gradients of the data loss on a few real "
                   "batches), fpgm, random (default l1)")
    p.add_argument("--data", default=None,
                   help="clips for recovery and Taylor calibration: built-in set(s) or a folder "
                   "(default shapes+digits+photos)")
    p.add_argument("--recover-steps", type=int, default=None, metavar="N",
                   help="recovery distillation steps after pruning (default 0: the pruned model as it is)")
    p.add_argument("--recipe", metavar="FILE", help="YAML/JSON recipe (e.g. prune/recipes/vae_decoder.yaml)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field, e.g. --set recover.lr=1e-4 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue a killed run in --output (exact)")
    p.add_argument("--output", "-o", required=True, metavar="DIR", help="run folder (the result goes to DIR/model)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mobilevid.config import resolve_config
    from mobilevid.pruning.prune import run_prune
    from mobilevid.pruning.prune_config import PruneConfig

    overrides = list(args.overrides)
    for flag, key in (("component", "component"), ("ratio", "ratio"), ("importance", "importance"),
                      ("data", "data"), ("recover_steps", "recover.steps")):
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"{key}={value}")
    cfg = resolve_config(PruneConfig, recipe=args.recipe, overrides=overrides)
    print(f"model: {run_prune(cfg, args.model, args.output, resume=args.resume, argv=sys.argv)}")
    return 0
