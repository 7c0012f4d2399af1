"""``mobilevid generate``: prompts -> MP4/GIF videos (and an optional PNG grid of frames)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "generate",
        help="generate videos from text prompts",
        description="Generate one video per prompt. A teacher samples with flow-matching Euler steps and "
        "classifier-free guidance; a distilled student at its own levels re-noises its clean estimate between "
        "steps, without guidance. Uses the built-in default model (a 4-step student; --model teacher for its "
        "teacher) unless --model is given; steps and guidance default to the model's own (model_index.json). "
        "The output type follows the extension: .mp4 (H.264) or .gif. "
        "With several prompts, files are numbered: demo_0.mp4, demo_1.mp4, ...",
    )
    p.add_argument("prompts", nargs="+", metavar="PROMPT", help="text prompt(s)")
    p.add_argument("--model", metavar="DIR", help="model folder, or a built-in model: default (the 4-step student) or teacher (default: default)")
    p.add_argument("--bundle", metavar="DIR", help="run an export bundle instead of a PyTorch model folder "
                   "(its own steps, guidance and frames, from manifest.json)")
    p.add_argument("--runtime", choices=["onnxruntime", "executorch"],
                   help="runtime for --bundle (default: the bundle's target)")
    p.add_argument("--steps", type=int, help="sampling steps (default: the model's)")
    p.add_argument("--guidance", type=float, help="classifier-free guidance scale; 1 disables (default: the model's)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0); prompt i uses seed + i")
    p.add_argument("--frames", type=int, help="frames per video (default: the model's)")
    p.add_argument("--grid", metavar="PNG", help="also write a PNG grid: one row per prompt, one column per frame")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="output video (.mp4 or .gif); missing folders are created")
    p.add_argument("--overwrite", action="store_true",
                   help="replace output files that exist (without it an existing file is an error; a folder is never "
                   "replaced)")
    from mobilevid.cli import generate_long

    generate_long.add_arguments(p)
    p.set_defaults(func=run)


def video_paths(out: Path, count: int) -> list[Path]:
    """``out`` for one prompt; ``demo_0.mp4, demo_1.mp4, ...`` for several."""
    return [out] if count == 1 else [out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(count)]


def check_outputs(args: argparse.Namespace, out: Path) -> None:
    """Every file this run writes (videos, the grid): not a folder, not an existing file without --overwrite."""
    from mobilevid.errors import MobilevidError
    from mobilevid.output_paths import check_output_file

    paths = video_paths(out, len(args.prompts))
    for path in paths:
        check_output_file(path, args.overwrite, "video")
    if args.grid:
        grid = Path(args.grid)
        if grid.suffix.lower() != ".png":
            raise MobilevidError(f"--grid is a PNG file: its name must end in .png, got '{grid.name}'")
        check_output_file(grid, args.overwrite, "grid")


def run(args: argparse.Namespace) -> int:
    from mobilevid.errors import MobilevidError
    from mobilevid.video_io import VIDEO_SUFFIXES

    out = Path(args.output)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise MobilevidError(f"output must end in .mp4 or .gif, got '{out.name}'")
    if args.frames is not None and args.frames < 1:
        raise MobilevidError(f"--frames must be at least 1, got {args.frames}")
    if args.steps is not None and not 1 <= args.steps <= 10_000:  # more only exhausts memory making the schedule
        raise MobilevidError(f"--steps must be between 1 and 10000, got {args.steps}")
    for prompt in args.prompts:
        if not prompt.strip():
            raise MobilevidError("empty prompt: give a text description")
        try:
            prompt.encode("utf-8")
        except UnicodeEncodeError:  # bytes of another encoding on the command line
            raise MobilevidError(f"prompt '{prompt.encode('utf-8', 'replace').decode()}' is not UTF-8 text") from None
    from mobilevid.sampling import check_seed

    check_seed(args.seed, len(args.prompts))
    check_outputs(args, out)  # before the model loads: a bad path fails now, not after sampling

    from mobilevid.cli import generate_long

    if generate_long.selected(args):  # more frames than the model's window, or a long-video flag
        return generate_long.run(args)

    from mobilevid.video_io import write_grid, write_video

    if args.bundle is not None:
        fixed = [flag for flag, value in (("--model", args.model), ("--steps", args.steps),
                                          ("--guidance", args.guidance), ("--frames", args.frames)) if value is not None]
        if fixed:
            raise MobilevidError(f"{', '.join(fixed)} cannot be used with --bundle: a bundle's shapes and sampler "
                                 "are fixed at export")
        from mobilevid.export.bundle_runtime import BundlePipeline

        pipe = BundlePipeline(args.bundle, args.runtime)
        fps = pipe.manifest.video.fps
        result = pipe(args.prompts, seed=args.seed)
    else:
        if args.runtime is not None:
            raise MobilevidError("--runtime applies only with --bundle")
        from mobilevid.pipeline import Pipeline

        pipe = Pipeline.from_pretrained(args.model)
        fps = pipe.config.fps
        result = pipe(args.prompts, num_inference_steps=args.steps, guidance_scale=args.guidance, seed=args.seed,
                      num_frames=args.frames, progress=True)
    paths = video_paths(out, len(args.prompts))
    for path, video in zip(paths, result.frames, strict=True):
        write_video(path, video, fps=fps, overwrite=args.overwrite)
        print(f"wrote {path}")
    if args.grid:
        print(f"wrote {write_grid(args.grid, result.frames, overwrite=args.overwrite)}")
    print(f"{result.seconds:.2f} s for {len(paths)} video(s), {result.model_evaluations} model evaluations each")
    return 0
