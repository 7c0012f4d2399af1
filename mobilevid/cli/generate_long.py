"""``mobilevid generate`` beyond the model's window: the long-video flags and their run (``mobilevid.longvideo``)."""

from __future__ import annotations

import argparse
from pathlib import Path

LONG_FLAGS = ("long", "partitions", "lookahead", "keyframes", "max_batch", "overlap", "prompt", "prompt_schedule")


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "long video",
        "More --frames than the model's window (16 for the built-in models) makes a long video, streamed to an "
        ".mp4 as frames are made. Default method: fifo (FIFO-Diffusion: constant memory, frames stream as they "
        "leave the queue, runs training-free on any model and on the 4-step student at a short clip's cost per "
        "frame). nuwa (NUWA-XL: keyframes, then first/last-frame infilling, one batch per level) needs a model "
        "trained for infilling; autoregressive is the baseline (each window conditioned on the last frames of "
        "the one before). Under `accelerate launch --multi_gpu --num_processes N -m mobilevid.cli.main generate "
        "...` (gloo on CPUs) the windows of a FIFO iteration and the local calls of a NUWA-XL level are shared "
        "among the processes, with the same video as one process.",
    )
    g.add_argument("--long", choices=["fifo", "nuwa", "autoregressive"],
                   help="long-video method (default: fifo when --frames exceeds the model's window)")
    g.add_argument("--partitions", type=int, metavar="N",
                   help="fifo: windows the queue is cut into; a teacher's FIFO runs frames x N levels "
                   "(default 4, the paper's); a student's uses blocks of frames x N / 4 (default 1)")
    g.add_argument("--lookahead", action=argparse.BooleanOptionalAction, default=None,
                   help="fifo: lookahead denoising (2N half-overlapping windows, twice the calls; default: on for a "
                   "teacher, off for a student, whose point is a short clip's cost per frame)")
    g.add_argument("--keyframes", type=int, metavar="L",
                   help="nuwa: frames per call (default: the smallest L that covers the video at the least depth)")
    g.add_argument("--max-batch", type=int, metavar="N",
                   help="nuwa: at most N local calls per forward pass (default: a whole level, as NUWA-XL batches it; "
                   "a level of a 1024-frame video holds 69 calls). On a CPU, 8 bounds memory and is faster; the video "
                   "is the same to float rounding")
    g.add_argument("--overlap", type=int, metavar="K",
                   help="autoregressive: frames each window takes from the one before (default: a quarter window)")
    g.add_argument("--prompt", action="append", default=[], metavar="'FRAME: text'",
                   help="a prompt from FRAME on (repeat for a schedule, e.g. --prompt '64: a blue square'); "
                   "PROMPT holds from frame 0")
    g.add_argument("--prompt-schedule", metavar="FILE",
                   help="prompt schedule file: JSON {\"0\": \"text\", \"64\": \"text\"} or CSV rows frame,prompt")


def selected(args: argparse.Namespace) -> bool:
    """Whether this run is a long video: a long-video flag, or more frames than the model's window."""
    from mobilevid.errors import MobilevidError

    flags = [f"--{name.replace('_', '-')}" for name in LONG_FLAGS
             if getattr(args, name, None) not in (None, [])]
    if args.bundle is not None:
        if flags:
            raise MobilevidError(f"{', '.join(flags)} cannot be used with --bundle: long videos run on a model folder")
        return False
    if flags:
        return True
    if args.frames is None:
        return False
    return args.frames > _model_window(args.model)


def _model_window(model: str | None) -> int:
    from mobilevid.artifacts import read_json
    from mobilevid.pipeline import resolve_model_dir

    return int(read_json(resolve_model_dir(model) / "model_index.json")["num_frames"])


def run(args: argparse.Namespace) -> int:
    from mobilevid.errors import MobilevidError
    from mobilevid.longvideo.prompt_schedule import build_schedule
    from mobilevid.longvideo.run import DEFAULT_METHOD, check_options, check_trained_for, generate_long

    out = Path(args.output)
    if out.suffix.lower() != ".mp4":
        raise MobilevidError(f"a long video streams to an .mp4 file, got '{out.name}'")
    if args.grid:
        raise MobilevidError("--grid applies to short clips (one column per frame)")
    for flag, value in (("--partitions", args.partitions), ("--keyframes", args.keyframes)):
        if value is not None and value < 1:
            raise MobilevidError(f"{flag} must be at least 1, got {value}")
    if args.overlap is not None and args.overlap < 0:
        raise MobilevidError(f"--overlap must be at least 0, got {args.overlap}")
    method = args.long or DEFAULT_METHOD
    check_options(method, args.partitions, args.lookahead, args.keyframes, args.overlap, args.max_batch)
    schedules = [build_schedule(p, args.prompt, args.prompt_schedule) for p in args.prompts]
    frames = args.frames or _model_window(args.model)
    for s in schedules:
        s.check_fits(frames)
    paths = [out] if len(args.prompts) == 1 else [out.with_name(f"{out.stem}_{i}{out.suffix}")
                                                  for i in range(len(args.prompts))]

    from mobilevid.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(args.model)
    check_trained_for(method, pipe.config)  # a model not trained for the method stops here, before sampling
    for i, (path, schedule) in enumerate(zip(paths, schedules, strict=True)):
        r = generate_long(pipe, schedule, frames, path, method, args.partitions, args.lookahead, args.steps,
                          args.guidance, args.seed + i, args.keyframes, args.overlap, max_batch=args.max_batch)
        print(f"wrote {r.path} ({r.frames} frames, {r.method}: {r.detail})")
        print(f"{r.seconds:.2f} s, {r.window_calls} window evaluations ({r.window_calls / r.frames:.2f} per frame), "
              f"{r.rounds} sequential rounds")
    return 0
