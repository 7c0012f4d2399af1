"""``mobilevid train``: VAE stage, optional VAE-decoder fine-tune, denoiser stage (the teacher)."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train the VAE and the video denoiser (teacher) on built-in data or a video folder",
        description="Train a text-to-video model: a VAE stage, then a denoiser stage (rectified flow, "
        "EMA, classifier-free-guidance caption dropout, joint image/video batches). One process by "
        "default; run it under `accelerate launch` for several GPUs or CPU processes. Killed runs "
        "continue exactly with --resume.",
    )
    p.add_argument("--preset", default=None, choices=["tiny", "small", "mobile-0.6b"], help="model preset (default tiny)")
    p.add_argument("--data", default=None,
                   help="built-in set (shapes, digits, photos), a mix 'shapes+digits', or a folder of videos "
                   "(default shapes+digits+photos)")
    p.add_argument("--recipe", metavar="FILE",
                   help="YAML/JSON recipe overriding the defaults; a recipe of 'phases' runs several trainings in "
                   "a row, each from the model of the one before (e.g. mobilevid/recipes/teacher.yaml rebuilds "
                   "the built-in teacher), and --set then applies to every phase")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any recipe field, e.g. --set denoiser.lr=3e-4 (repeatable)")
    p.add_argument("--stage", choices=["vae", "vae_decoder", "layout", "denoiser", "all"], default=None,
                   help="run one stage (default: the recipe's stages; vae_decoder fine-tunes the decoder of a "
                   "trained VAE with its encoder frozen; layout fits the text-to-layout map of a model with "
                   "frame_layout_conditioning before its denoiser stage)")
    p.add_argument("--output", "-o", required=True, metavar="DIR",
                   help="run folder: new or empty (missing parent folders are created); a run that fails before "
                   "its first checkpoint removes what it wrote there")
    p.add_argument("--max-steps", type=int, default=None, metavar="N", help="steps of each stage that runs")
    p.add_argument("--checkpoint-every", type=int, default=None, metavar="N", help="checkpoint every N steps")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --output if it is an earlier train run folder (run.json); the old one is removed "
                   "when the new run ends, and kept if the new one fails before its first checkpoint")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mobilevid.config import resolve_config
    from mobilevid.errors import MobilevidError
    from mobilevid.training.phases import read_phases
    from mobilevid.training.run_setup import check_run_folder, run_folder
    from mobilevid.training.train import stages_to_run, train, train_phases
    from mobilevid.training.train_config import TrainConfig

    check_run_folder(args.output, "train", args.resume, args.overwrite)
    overrides = list(args.overrides)
    for flag, key in (("preset", "preset"), ("data", "data"), ("seed", "seed"), ("checkpoint_every", "checkpoint_every")):
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"{key}={value}")
    if args.max_steps is not None:
        if args.max_steps < 1:
            raise MobilevidError(f"--max-steps must be at least 1, got {args.max_steps}")
        overrides += [f"{stage}.steps={args.max_steps}" for stage in ("vae", "vae_decoder", "layout", "denoiser")]
    phases = read_phases(TrainConfig, args.recipe, overrides) if args.recipe else None
    if phases is not None:
        if args.stage:
            raise MobilevidError("--stage picks a stage of one training; this recipe has phases (each names its stages)")
        with run_folder(args.output, "train", args.resume, args.overwrite):
            print(f"model: {train_phases(phases, args.output, resume=args.resume, argv=sys.argv)}")
        return 0
    if args.stage and args.stage != "all":
        overrides.append(f"stages=[{args.stage}]")
    cfg = resolve_config(TrainConfig, recipe=args.recipe, overrides=overrides)
    if cfg.checkpoint_every < 1:
        raise MobilevidError(f"--checkpoint-every must be at least 1, got {cfg.checkpoint_every}")
    with run_folder(args.output, "train", args.resume, args.overwrite):
        model_dir = train(cfg, args.output, resume=args.resume, argv=sys.argv)
    stages = stages_to_run(cfg)
    if "denoiser" in stages or (cfg.init_from is not None and "vae_decoder" in stages):
        print(f"model: {model_dir}")
    elif stages == ["layout"]:
        print(f"layout map: {model_dir.parent / 'stages' / 'layout' / 'layout.safetensors'}")
    else:
        print(f"VAE: {model_dir.parent / 'vae'}")
    return 0
