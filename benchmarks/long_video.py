"""Long videos side by side: FIFO-Diffusion, NUWA-XL and the autoregressive baseline, teacher and student.

    python benchmarks/long_video.py [--quick] [--frames 64 256 1024] [--rows ...] [--skip LABEL@FRAMES]
                                    [--teacher-steps 8] [--cache rows.jsonl]

Each row runs in its own process (``generate_long`` to an MP4), so peak RSS is that row's alone; the
2-process NUWA-XL row runs under ``accelerate launch`` (gloo), each process computing its share of
every level. Reported per row: wall seconds, CPU seconds (of the busiest process), window
evaluations (model calls of one clip window; a guided one counts two) in all and per frame,
sequential rounds (the critical path), peak RSS; and quality from the exact shapes scorer on the
video read back from its MP4 (pixels subsampled to the model's size): adherence to a two-segment
prompt schedule (a red circle, then a blue square from the middle frame on), drift (colour/shape
accuracy of the last 4 16-frame segments, frames 960-1023 of 1024, against 4 from frame 16, each
against its own prompt), and flicker (mean absolute difference of consecutive frames) across
window seams against inside windows. NUWA-XL rows use the built-in ``nuwa`` model (trained at
strides 1, 15, 225 for L = 16). The teacher's FIFO runs with one partition and no lookahead (16 levels,
two guided calls per frame): the paper's 4 partitions with lookahead cost 8x more (775 s for 64 frames
on this CPU). The student's FIFO continues from its first clip (the default for a student); the
``student-fifo-requeue`` row re-makes the clip through the queue, as the paper starts. Rows read from
``--cache`` are listed in the JSON's ``from_cache``.
The run ends with the issue's acceptance points computed from the rows.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import benchmark_parser, code_version, markdown_table, write_results

FIRST, SECOND = "a red circle moving right", "a blue square moving left"
EXPECT = {FIRST: {"color": "red", "shape": "circle"}, SECOND: {"color": "blue", "shape": "square"}}
SEGMENT = 16
DRIFT_SEGMENTS = 4


def run_row(model: str, method: str, frames: int, steps: int | None, path: Path, options: dict | None = None) -> dict:
    """One long video in this process (or this process's share): the generate_long figures, CPU time, peak RSS."""
    from mobilevid.errors import MobilevidError
    from mobilevid.longvideo.distributed import process_split
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
    cpu = time.process_time()
    r = generate_long(pipe, schedule, frames, path, method, steps=None if student or method == "fifo" else steps,
                      progress=False, **(options or {}))
    cpu = time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": r.seconds, "cpu_seconds": cpu, "window_calls": r.window_calls, "rounds": r.rounds,
            "peak_rss_mb": peak_mb, "detail": r.detail, "window": pipe.config.num_frames, "size": pipe.config.height,
            "rank": process_split().rank}


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

    # Segments that do not straddle the prompt switch at the middle frame.
    starts = [s for s in range(0, n - SEGMENT + 1, SEGMENT) if s + SEGMENT <= half or s >= half]
    scored = {s: hits(s) for s in starts}
    first_half = [s for s in starts if s + SEGMENT <= half]
    second_half = [s for s in starts if s >= half]

    def pct(selected: list[int]) -> float:
        return 100 * float(np.mean([sum(scored[s]) / 2 for s in selected])) if selected else float("nan")

    # Drift as the issue words it: accuracy late in the video (the last k segments: frames 960-1023 of
    # 1024) against its start (k segments from frame 16), each against the prompt its frames were given.
    k = max(1, min(DRIFT_SEGMENTS, (len(starts) - 1) // 2))
    early, late = [s for s in starts if s >= SEGMENT][:k], starts[-k:]
    diffs = np.abs(np.diff(video, axis=0)).mean(axis=(1, 2, 3))  # diffs[t - 1]: frames t - 1 -> t
    seam = set(seams(method, detail, n, window))
    # The prompt switch at the middle frame is a change the schedule asks for: it counts as neither.
    across = [diffs[t - 1] for t in range(1, n) if t in seam and t != half]
    inside = [diffs[t - 1] for t in range(1, n) if t not in seam and t != half]
    return {"schedule adherence %": pct(starts),
            "segment 1 %": pct(first_half), "segment 2 %": pct(second_half),
            "start %": pct(early), "late %": pct(late), "drift pts": pct(late) - pct(early),
            "drift frames": f"{late[0]}-{late[-1] + SEGMENT - 1} vs {early[0]}-{early[-1] + SEGMENT - 1}",
            "flicker seams": float(np.mean(across)) if across else float("nan"),
            "flicker inside": float(np.mean(inside)) if inside else float("nan")}


# (label, model, method, processes[, generate_long options]): one row each per length.
ROWS = {
    "student-fifo": ("student", "default", "fifo", 1),
    # The paper's start (the first clip re-made through the queue) instead of the student's default, continuing.
    "student-fifo-requeue": ("student", "default", "fifo", 1, {"fifo_start": "requeue"}),
    "student-ar": ("student", "default", "autoregressive", 1),
    "nuwa": ("nuwa", "nuwa", "nuwa", 1),
    "nuwa-2proc": ("nuwa", "nuwa", "nuwa", 2),
    # At most 8 local calls per forward pass (generate --max-batch 8): the same video in bounded memory.
    "nuwa-batch8": ("nuwa", "nuwa", "nuwa", 1, {"max_batch": 8}),
    "teacher-ar": ("teacher", "teacher", "autoregressive", 1),
    # The paper's 4 partitions with lookahead (64 levels x 2 windows x 2 guided calls per frame) took 775 s for
    # 64 frames on this CPU: one partition without lookahead is 8x cheaper and still the teacher's FIFO.
    "teacher-fifo": ("teacher", "teacher", "fifo", 1, {"partitions": 1, "lookahead": False}),
    # The teacher the nuwa model was fine-tuned from (stride-1 clips only): what the stride training changed.
    "teacher-nuwa": ("teacher", "teacher", "nuwa", 1),
}


def row_command(model: str, method: str, frames: int, steps: int, mp4: Path, processes: int,
                options: dict | None = None) -> list[str]:
    row = [__file__, "--row", model, method, str(frames), str(steps), str(mp4), json.dumps(options or {})]
    if processes == 1:
        return [sys.executable, *row]
    # Two processes through accelerate (gloo on CPUs), as mobilevid/longvideo/distributed.py expects.
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port",
            "29561", *row]


def measure(label: str, frames: int, args, tmp: Path) -> dict:
    name, model, method, processes, *options = ROWS[label]
    if name == "nuwa":
        model = args.nuwa_model
    mp4 = tmp / f"{label}_{frames}.mp4"
    done = subprocess.run(row_command(model, method, frames, args.teacher_steps, mp4, processes, *options),
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"row {label} {frames} failed:\n{done.stderr[-2000:]}")
    shares = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    row = {"model": name, "method": method, "processes": processes, "frames": frames}
    if "skipped" in shares[0]:
        return {**row, "detail": "skipped: " + shares[0]["skipped"].split(";")[0]}
    main_share = next(r for r in shares if r["rank"] == 0)
    q = quality(read_frames(mp4, main_share["size"]), method, main_share["detail"], main_share["window"])
    return {**row, "seconds": main_share["seconds"],
            # CPU time of the busiest process: the time on as many free cores as processes.
            "CPU s": max(r["cpu_seconds"] for r in shares),
            "calls": sum(r["window_calls"] for r in shares), "calls / frame": sum(r["window_calls"] for r in shares)
            / frames, "rounds": main_share["rounds"], "peak RSS MB": max(r["peak_rss_mb"] for r in shares), **q,
            "detail": main_share["detail"] + "".join(f", {k} {v}" for k, v in (options[0] if options else {}).items()
                                                     if k == "max_batch")}


def acceptance(rows: list[dict]) -> list[str]:
    """The issue's acceptance points, from the rows this run measured."""
    def get(model: str, method: str, frames: int, processes: int = 1) -> dict | None:
        return next((r for r in rows if (r["model"], r["method"], r["frames"], r["processes"]) ==
                     (model, method, frames, processes) and "seconds" in r and "max_batch" not in r["detail"]
                     and not (r["model"] == "student" and "start requeue" in r["detail"])), None)

    out = []
    f64, f1k = get("student", "fifo", 64), get("student", "fifo", 1024)
    if f64 and f1k:
        ratio = f1k["peak RSS MB"] / f64["peak RSS MB"]
        out.append(f"FIFO peak RSS 1024 / 64 frames: {ratio:.2f}x (<= 1.1x: {'yes' if ratio <= 1.1 else 'NO'})")
    nuwa = get("nuwa", "nuwa", 1024)
    for ar_model in ("teacher", "student"):
        ar = get(ar_model, "autoregressive", 1024)
        if nuwa and ar:
            x = ar["rounds"] / nuwa["rounds"]
            out.append(f"sequential rounds at 1024, {ar_model} autoregressive / NUWA-XL: {ar['rounds']} / "
                       f"{nuwa['rounds']} = {x:.1f}x (>= 20x: {'yes' if x >= 20 else 'NO'})")
    batched = [r for r in rows if r["method"] == "nuwa" and "max_batch" in r.get("detail", "") and "seconds" in r]
    for r in batched:
        whole = get("nuwa", "nuwa", r["frames"])
        if whole:
            out.append(f"NUWA-XL {r['frames']} frames, peak RSS with a whole level per batch vs max_batch 8: "
                       f"{whole['peak RSS MB']:.0f} vs {r['peak RSS MB']:.0f} MB; {whole['CPU s']:.0f} vs {r['CPU s']:.0f} "
                       f"CPU s; schedule adherence {whole['schedule adherence %']:.1f}% vs {r['schedule adherence %']:.1f}%")
    nuwa2 = get("nuwa", "nuwa", 1024, 2) or get("nuwa", "nuwa", 256, 2)
    if nuwa2:
        one = get("nuwa", "nuwa", nuwa2["frames"])
        if one:
            out.append(f"NUWA-XL {nuwa2['frames']} frames: 1 process {one['seconds']:.0f} s wall / {one['CPU s']:.0f} s "
                       f"CPU; 2 processes {nuwa2['seconds']:.0f} s wall / {nuwa2['CPU s']:.0f} s CPU of the busier")
    at1k = [r for r in rows if r["frames"] == 1024 and "seconds" in r]
    if at1k:
        best = max(at1k, key=lambda r: (r["late %"], -abs(r["drift pts"])))
        out.append(f"drift at 1024 frames, best method ({best['model']} {best['method']}): late {best['late %']:.1f}% "
                   f"vs start {best['start %']:.1f}% = {best['drift pts']:+.1f} pts "
                   f"(within 5: {'yes' if abs(best['drift pts']) <= 5 else 'NO'})")
    for n in sorted({r["frames"] for r in rows}):
        st, te = get("student", "fifo", n), get("teacher", "fifo", n)
        if st and te:
            out.append(f"FIFO at {n} frames, student vs teacher (1 partition): {st['CPU s']:.0f} vs {te['CPU s']:.0f} CPU s "
                       f"({te['CPU s'] / st['CPU s']:.1f}x), schedule adherence {st['schedule adherence %']:.0f}% vs "
                       f"{te['schedule adherence %']:.0f}%, drift {st['drift pts']:+.0f} vs {te['drift pts']:+.0f} pts")
    short = 4 / 16  # the student's short clip: 4 calls for 16 frames
    fifo = [f for f in (get("student", "fifo", n) for n in sorted({r["frames"] for r in rows})) if f]
    for f in fifo:
        out.append(f"student FIFO calls per frame at {f['frames']}: {f['calls / frame']:.4f} vs short clips {short:.4f} "
                   f"(<=: {'yes' if f['calls / frame'] <= short else 'NO'})")
    for r in rows:
        if r["model"] == "student" and "start requeue" in r.get("detail", "") and "seconds" in r:
            c = get("student", "fifo", r["frames"])
            if c:
                out.append(f"student FIFO at {r['frames']} frames, continuing from the first clip vs re-making it (the "
                           f"paper's start): {c['calls / frame']:.4f} vs {r['calls / frame']:.4f} calls per frame, "
                           f"schedule adherence {c['schedule adherence %']:.1f}% vs {r['schedule adherence %']:.1f}%, "
                           f"seam flicker {c['flicker seams']:.4f} vs {r['flicker seams']:.4f}")
    if len(fifo) >= 2:  # the cost of each further frame, without the first clip the queue starts from
        a, b = fifo[-2], fifo[-1]
        out.append(f"student FIFO calls per further frame, {a['frames']} -> {b['frames']}: "
                   f"{(b['calls'] - a['calls']) / (b['frames'] - a['frames']):.4f}")
    return out


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", help="video lengths (default 64 256 1024; quick: 64 256)")
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS), help="which rows per length")
    parser.add_argument("--skip", nargs="+", default=[], metavar="LABEL@FRAMES",
                        help="rows to leave out, e.g. nuwa-2proc@1024 (the time budget)")
    parser.add_argument("--nuwa-model", default="nuwa", help="the model of the NUWA-XL rows (default: built-in nuwa)")
    parser.add_argument("--teacher-steps", type=int, default=8,
                        help="teacher steps for NUWA-XL and autoregressive rows (FIFO's are frames x partitions)")
    parser.add_argument("--cache", type=Path, help="JSON lines of finished rows: a rerun skips them (resume)")
    parser.add_argument("--row", nargs=6, metavar=("MODEL", "METHOD", "FRAMES", "STEPS", "MP4", "OPTIONS"),
                        help=argparse_hide())
    args = parser.parse_args()
    if args.row:
        model, method, frames, steps, mp4, options = args.row
        print(json.dumps(run_row(model, method, int(frames), int(steps), Path(mp4), json.loads(options))), flush=True)
        return
    lengths = args.frames or ([64, 256] if args.quick else [64, 256, 1024])
    done: dict[str, dict] = {}
    cached: dict[str, str] = {}  # key -> the commit the cached row ran on
    if args.cache and args.cache.is_file():
        for line in args.cache.read_text().splitlines():
            r = json.loads(line)
            done[r["key"]] = r["row"]
            cached[r["key"]] = r.get("commit", "not recorded")
    commit = code_version()["commit"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for frames in lengths:
            for label in args.rows:
                key = f"{label}@{frames}"
                if key in args.skip:
                    continue
                if key not in done:
                    done[key] = measure(label, frames, args, Path(tmp))
                    if args.cache:
                        with args.cache.open("a") as f:
                            f.write(json.dumps({"key": key, "row": done[key], "commit": commit}) + "\n")
                rows.append(done[key])
                print(rows[-1], flush=True)
    rows.sort(key=lambda r: r["frames"])  # stable: the --rows order within a length
    print("\n# long video: one video per row, CPU (processes pinned to one core, one thread)\n")
    print(markdown_table(rows))
    checks = acceptance(rows)
    print("\n" + "\n".join(checks))
    from_cache = {k: c for k, c in cached.items() if k in {f"{label}@{n}" for label in args.rows for n in lengths}
                  and k not in args.skip}
    path = write_results("long_video", rows, {"teacher_steps": args.teacher_steps, "acceptance": checks,
                                              "left_out": ["teacher FIFO with the paper's 4 partitions and lookahead "
                                                           "(775 s for 64 frames on this CPU)", *args.skip],
                                              "from_cache": from_cache},
                         args.output, models={"student": "default", "teacher": "teacher", "nuwa": args.nuwa_model})
    print(f"\nwrote {path}")


def argparse_hide() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
