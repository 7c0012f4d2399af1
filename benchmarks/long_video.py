"""Long videos side by side: FIFO-Diffusion, NUWA-XL and the autoregressive baseline, teacher and student.

    python benchmarks/long_video.py [--quick] [--frames 64 256 1024] [--teacher-steps 8]

Each row runs in its own process (``generate_long`` to an MP4), so peak RSS is that row's alone.
Reported per row: seconds, window evaluations (model calls of one clip window; a guided one counts
two) in all and per frame, sequential rounds (the critical path), peak RSS; and quality from the
exact shapes scorer on the video read back from its MP4 (pixels subsampled to the model's size):
adherence to a two-segment prompt schedule (a red circle, then a blue square from the middle
frame on), colour/shape accuracy of the last 16-frame segments against the first (drift), and
flicker (mean absolute difference of consecutive frames) across window seams against inside
windows. NUWA-XL rows need a model recorded as trained for first/last-frame infilling (the
teacher); a method a model was not trained for is skipped with the reason.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from _common import benchmark_parser, markdown_table, write_results

FIRST, SECOND = "a red circle moving right", "a blue square moving left"
EXPECT = {FIRST: {"color": "red", "shape": "circle"}, SECOND: {"color": "blue", "shape": "square"}}
SEGMENT = 16


def run_row(model: str, method: str, frames: int, steps: int | None, path: Path) -> dict:
    """One long video in this process: the generate_long figures and this process's peak RSS."""
    from mobilevid.errors import MobilevidError
    from mobilevid.longvideo.prompt_schedule import PromptSchedule
    from mobilevid.longvideo.run import check_trained_for, generate_long
    from mobilevid.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(model)
    try:
        check_trained_for(method, pipe.config)
    except MobilevidError as err:
        return {"skipped": str(err)}
    schedule = PromptSchedule.from_entries(FIRST, {frames // 2: SECOND})
    student = pipe.fixed_sigmas is not None
    r = generate_long(pipe, schedule, frames, path, method, steps=None if student or method == "fifo" else steps,
                      progress=False)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": r.seconds, "window_calls": r.window_calls, "rounds": r.rounds, "peak_rss_mb": peak_mb,
            "detail": r.detail, "window": pipe.config.num_frames, "size": pipe.config.height}


def read_frames(path: Path, size: int) -> np.ndarray:
    """(F, 3, H, W) in [-1, 1] from the MP4 (the writer upscales by an integer factor: take one pixel per block)."""
    import av

    with av.open(str(path)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    step = frames.shape[1] // size
    frames = frames[:, ::step, ::step][:, :size, :size]
    return frames.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0


def seams(method: str, detail: str, frames: int, window: int) -> list[int]:
    """Frame indices t where (t - 1, t) crosses a window seam of the method's output."""
    if method == "autoregressive":
        known = int(detail.split(", ")[1].split()[0])
        return list(range(window, frames, window - known))
    if method == "nuwa":
        keyframes = int(detail.split("L = ")[1].split(",")[0])
        return [t for a in range(keyframes - 1, frames, keyframes - 1) for t in (a, a + 1) if t < frames]
    return list(range(window, frames, window))  # FIFO has no fixed seam: every window-th frame for reference


def quality(video: np.ndarray, method: str, detail: str, window: int) -> dict:
    from mobilevid.eval.shapes_scorer import score_shapes_clip

    n = video.shape[0]
    half = n // 2

    def hits(start: int) -> tuple[float, float]:
        want = EXPECT[FIRST if start < half else SECOND]
        got = score_shapes_clip(video[start:start + SEGMENT])
        return float(got["color"] == want["color"]), float(got["shape"] == want["shape"])

    starts = list(range(0, n - SEGMENT + 1, SEGMENT))
    scored = {s: hits(s) for s in starts}
    first_half = [s for s in starts if s + SEGMENT <= half]
    second_half = [s for s in starts if s >= half]

    def pct(selected: list[int]) -> float:
        return 100 * float(np.mean([sum(scored[s]) / 2 for s in selected])) if selected else float("nan")

    k = max(1, min(4, len(first_half), len(second_half)))
    diffs = np.abs(np.diff(video, axis=0)).mean(axis=(1, 2, 3))  # diffs[t - 1]: frames t - 1 -> t
    seam = set(seams(method, detail, n, window))
    # The prompt switch at the middle frame is a change the schedule asks for: it counts as neither.
    across = [diffs[t - 1] for t in range(1, n) if t in seam and t != half]
    inside = [diffs[t - 1] for t in range(1, n) if t not in seam and t != half]
    return {"schedule adherence %": pct(starts),
            "segment 1 %": pct(first_half), "segment 2 %": pct(second_half),
            # Drift: the last k segments of the second prompt against its first k (same prompt, later in time).
            "drift pts": pct(second_half[-k:]) - pct(second_half[:k]),
            "flicker seams": float(np.mean(across)) if across else float("nan"),
            "flicker inside": float(np.mean(inside)) if inside else float("nan")}


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", help="video lengths (default 64 256 1024; quick: 64 256)")
    parser.add_argument("--teacher-steps", type=int, default=8,
                        help="teacher steps for NUWA-XL and autoregressive rows (FIFO's are frames x partitions)")
    parser.add_argument("--row", nargs=5, metavar=("MODEL", "METHOD", "FRAMES", "STEPS", "MP4"), help=argparse_hide())
    args = parser.parse_args()
    if args.row:
        model, method, frames, steps, mp4 = args.row
        print(json.dumps(run_row(model, method, int(frames), int(steps), Path(mp4))))
        return
    lengths = args.frames or ([64, 256] if args.quick else [64, 256, 1024])
    plan = [("default", m) for m in ("fifo", "autoregressive", "nuwa")] + [("teacher", m) for m in
                                                                          ("nuwa", "autoregressive", "fifo")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for frames in lengths:
            for model, method in plan:
                if model == "teacher" and method == "fifo" and frames > 64:
                    continue  # 64 levels x 8 windows x 2 (guidance) per frame: hours on this CPU
                mp4 = Path(tmp) / f"{model}_{method}_{frames}.mp4"
                cmd = [sys.executable, __file__, "--row", model, method, str(frames), str(args.teacher_steps),
                       str(mp4)]
                done = subprocess.run(cmd, capture_output=True, text=True)
                if done.returncode != 0:
                    raise SystemExit(f"row {model} {method} {frames} failed:\n{done.stderr[-2000:]}")
                r = json.loads(done.stdout.strip().splitlines()[-1])
                row = {"model": "student" if model == "default" else "teacher", "method": method, "frames": frames}
                if "skipped" in r:
                    rows.append({**row, "detail": "skipped: " + r["skipped"].split(";")[0]})
                    print(rows[-1], flush=True)
                    continue
                q = quality(read_frames(mp4, r["size"]), method, r["detail"], r["window"])
                rows.append({**row, "seconds": r["seconds"], "calls": r["window_calls"],
                             "calls / frame": r["window_calls"] / frames, "rounds": r["rounds"],
                             "peak RSS MB": r["peak_rss_mb"], **q, "detail": r["detail"]})
                print(rows[-1], flush=True)
    print("\n# long video: one video per row, CPU\n")
    print(markdown_table(rows))
    path = write_results("long_video", rows, {"teacher_steps": args.teacher_steps}, args.output,
                         models={"student": "default", "teacher": "teacher"})
    print(f"\nwrote {path}")


def argparse_hide() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
