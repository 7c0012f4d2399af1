"""FIFO-Diffusion trained for or not: models fine-tuned with per-frame levels against the same runs without, and the
4-step student's FIFO against the teacher's, in one run.

    python benchmarks/fifo_training.py --teachers teacher runs/teacher_fifo runs/teacher_fifo_control \\
        --students default runs/student_fifo runs/student_fifo_control [--prompts 32] [--teacher-prompts 16]

Per model (the first of each list is the reference the others are fine-tuned from):
- the error at the levels FIFO gives a window against clip-level ones, on the same held-out clips and noise:
  the teacher's flow loss (velocity MSE) with every clip at one level against FIFO's staircase (n = 1: frame j of
  the window at the j-th of 16 levels; n = 4: one of the four 16-level windows of the 64-level queue); the
  student's clean-estimate MSE at its 4 levels against its block staircase;
- FIFO videos of held-out `shapes` prompts (one prompt per video), scored by the exact scorer on every 16-frame
  segment after the first clip (colour and shape; motion has no single label over a long video), steadiness (VBench
  temporal flickering: higher is steadier), CPU
  seconds and model calls per frame; the student's short clips of the same prompts beside them.
The teacher's FIFO runs with n = 1 and no lookahead (16 levels, two guided calls per frame): the paper's n = 4 with
lookahead costs 8x more (775 s for 64 frames on this CPU).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from long_video import SEGMENT, read_frames

from _common import benchmark_parser, log, markdown_table, write_results

HELDOUT_CLIPS = 16
TEACHER_PARTITIONS = 4  # FIFO's default n for the teacher (64 levels)


def flow_losses(pipe, clips: int) -> dict[str, float]:
    """Teacher: held-out velocity MSE at clip levels and at FIFO's staircases (n = 1, and the n = 4 windows)."""
    from mobilevid.sampling import schedule_sigmas
    from mobilevid.search.evolution import HeldoutFlowLoss

    f = pipe.config.num_frames
    one = schedule_sigmas(pipe.scheduler, f).flip(0)[1:]  # 16 nonzero levels, ascending: frame j at the j-th
    queue = schedule_sigmas(pipe.scheduler, f * TEACHER_PARTITIONS).flip(0)[1:]
    windows = torch.stack([queue[(i % TEACHER_PARTITIONS) * f:(i % TEACHER_PARTITIONS + 1) * f] for i in range(clips)])
    data = "shapes+digits"
    return {"clip levels": HeldoutFlowLoss(pipe, None, data, clips).loss(pipe.denoiser),
            "FIFO n=1": HeldoutFlowLoss(pipe, None, data, clips, times=one.expand(clips, -1)).loss(pipe.denoiser),
            "FIFO n=4": HeldoutFlowLoss(pipe, None, data, clips, times=windows).loss(pipe.denoiser)}


@torch.no_grad()
def x0_errors(pipe, clips: int) -> dict[str, float]:
    """Student: held-out clean-estimate MSE with clip i at level i mod 4, and with every clip at the block staircase."""
    from mobilevid.data import make_dataset
    from mobilevid.distillation.distill import staircase_levels
    from mobilevid.models.rectified_flow import TIMESTEP_SCALE, add_noise

    cfg = pipe.config
    levels = [float(s) for s in pipe.fixed_sigmas]
    dataset = make_dataset("shapes+digits", "heldout", num_frames=cfg.num_frames, size=(cfg.height, cfg.width), seed=0,
                           length=clips)
    items = [dataset[i] for i in range(clips)]
    x0 = torch.cat([pipe.vae.encode(item["video"][None]).float() for item in items])
    states, pooled, mask = pipe.text_encoder.encode([item["caption"] for item in items])
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    fps = torch.full((clips,), float(cfg.fps))
    per_clip = torch.tensor([levels[i % len(levels)] for i in range(clips)])[:, None].expand(-1, cfg.num_frames)
    stair = staircase_levels(levels, cfg.num_frames).expand(clips, -1)
    out = {}
    for name, t in (("clip levels", per_clip), ("FIFO blocks", stair)):
        x_t = add_noise(x0, noise, t)
        total = 0.0
        for s in range(0, clips, 4):
            v = pipe.denoiser(x_t[s:s + 4], t[s:s + 4] * TIMESTEP_SCALE, states[s:s + 4],
                              encoder_attention_mask=mask[s:s + 4], pooled_text=pooled[s:s + 4], fps=fps[s:s + 4])
            est = x_t[s:s + 4] - t[s:s + 4, :, None, None, None] * v
            total += float(((est - x0[s:s + 4]) ** 2).mean()) * est.shape[0]
        out[name] = total / clips
    return out


def fifo_videos(pipe, prompts: list[dict], frames: int, tmp: Path) -> dict[str, float]:
    """FIFO videos (n = 1, no lookahead), scored per 16-frame segment after the first clip."""
    from mobilevid.eval.flicker import temporal_flickering
    from mobilevid.eval.shapes_scorer import score_shapes_clip
    from mobilevid.longvideo.prompt_schedule import PromptSchedule
    from mobilevid.longvideo.run import generate_long

    hits = {"color": [], "shape": []}
    flicker, cpu, calls = [], 0.0, 0
    for i, p in enumerate(prompts):
        mp4 = tmp / f"v{i}.mp4"
        t0 = time.process_time()
        r = generate_long(pipe, PromptSchedule.from_entries(p["caption"], {}), frames, mp4, "fifo", partitions=1,
                          lookahead=False, seed=i, progress=False)
        cpu += time.process_time() - t0
        calls += r.window_calls
        video = read_frames(mp4, pipe.config.height)
        for s in range(SEGMENT, frames - SEGMENT + 1, SEGMENT):
            got = score_shapes_clip(video[s:s + SEGMENT])
            for k in hits:
                hits[k].append(got[k] == p["labels"][k])
        flicker.append(temporal_flickering(video))
    return {"FIFO colour %": 100 * float(np.mean(hits["color"])), "FIFO shape %": 100 * float(np.mean(hits["shape"])),
            "FIFO steadiness": float(np.mean(flicker)), "FIFO CPU s / frame": cpu / (frames * len(prompts)),
            "FIFO calls / frame": calls / (frames * len(prompts))}


def short_clips(pipe, prompts: list[dict]) -> dict[str, float]:
    """Ordinary clips of the same prompts, scored whole."""
    from mobilevid.eval.shapes_scorer import score_shapes_clip

    hits = {"color": [], "shape": []}
    cpu, calls, frames = 0.0, 0, 0
    for i, p in enumerate(prompts):
        t0 = time.process_time()
        out = pipe([p["caption"]], seed=i)
        cpu += time.process_time() - t0
        calls += out.model_evaluations
        frames += out.frames.shape[1]
        got = score_shapes_clip(out.frames[0] * 2 - 1)
        for k in hits:
            hits[k].append(got[k] == p["labels"][k])
    return {"clip colour %": 100 * float(np.mean(hits["color"])), "clip shape %": 100 * float(np.mean(hits["shape"])),
            "clip CPU s / frame": cpu / frames, "clip calls / frame": calls / frames}


def measure(model: str, role: str, prompts: list[dict], frames: int, tmp: Path) -> dict:
    from mobilevid.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(model)
    student = pipe.fixed_sigmas is not None
    if (role == "student") != student:
        raise SystemExit(f"{model} is {'a student' if student else 'a teacher'}, listed as a {role}")
    log(f"{role} {model}: errors at clip levels and at FIFO's")
    errors = x0_errors(pipe, HELDOUT_CLIPS) if student else flow_losses(pipe, HELDOUT_CLIPS)
    row = {"model": model, "role": role, "per-frame training": pipe.config.trained_for.per_frame_times,
           **{f"{'x0' if student else 'flow'} MSE {k}": round(v, 5) for k, v in errors.items()}}
    log(f"{role} {model}: {len(prompts)} FIFO videos of {frames} frames")
    row.update(fifo_videos(pipe, prompts, frames, tmp))
    if student:
        row.update(short_clips(pipe, prompts))
    return row


def compare(rows: list[dict]) -> list[str]:
    """Each model fine-tuned with per-frame levels against each fine-tune without (its control), and the student's
    FIFO against the teacher's. The first model of a role is the reference both were fine-tuned from."""
    out = []
    for role, error in (("student", "x0 MSE FIFO blocks"), ("teacher", "flow MSE FIFO n=1")):
        tuned = [r for r in rows if r["role"] == role][1:]
        for r in (r for r in tuned if r["per-frame training"]):
            for c in (c for c in tuned if not c["per-frame training"]):
                out.append(f"{role} {r['model']} vs control {c['model']}: {error} {r[error]:.4f} vs {c[error]:.4f} "
                           f"({100 * (r[error] / c[error] - 1):+.1f} %); FIFO colour "
                           f"{r['FIFO colour %'] - c['FIFO colour %']:+.1f} pts, shape "
                           f"{r['FIFO shape %'] - c['FIFO shape %']:+.1f} pts")
    students = [r for r in rows if r["role"] == "student"]
    teachers = [r for r in rows if r["role"] == "teacher"]
    if students:
        s = students[0]
        out.append(f"student {s['model']}, FIFO vs its short clips: colour {s['FIFO colour %']:.1f}% vs "
                   f"{s['clip colour %']:.1f}%, shape {s['FIFO shape %']:.1f}% vs {s['clip shape %']:.1f}%, "
                   f"{s['FIFO calls / frame']:.3f} vs {s['clip calls / frame']:.3f} calls per frame")
    if students and teachers:
        s, t = students[0], teachers[0]
        out.append(f"FIFO, student {s['model']} vs teacher {t['model']}: "
                   f"{t['FIFO CPU s / frame'] / s['FIFO CPU s / frame']:.1f}x less CPU per frame, "
                   f"{s['FIFO calls / frame']:.3f} vs {t['FIFO calls / frame']:.3f} calls per frame; colour "
                   f"{s['FIFO colour %']:.0f}% vs {t['FIFO colour %']:.0f}%, shape {s['FIFO shape %']:.0f}% vs "
                   f"{t['FIFO shape %']:.0f}% (the teacher on fewer prompts: see the header)")
    return out


def main() -> None:
    from mobilevid.data import heldout_prompts

    parser = benchmark_parser(__doc__.splitlines()[0])
    parser.add_argument("--teachers", nargs="*", default=["teacher"], help="teacher folders; the first is the reference")
    parser.add_argument("--students", nargs="*", default=["default"], help="student folders; the first is the reference")
    parser.add_argument("--prompts", type=int, default=32, help="held-out shapes prompts for the students' videos")
    parser.add_argument("--teacher-prompts", type=int, default=16, help="held-out shapes prompts for the teachers' FIFO")
    parser.add_argument("--frames", type=int, default=64, help="frames per FIFO video (a multiple of 16, >= 32)")
    args = parser.parse_args()
    if args.frames < 2 * SEGMENT or args.frames % SEGMENT:
        raise SystemExit(f"--frames must be a multiple of {SEGMENT} and at least {2 * SEGMENT}, got {args.frames}")
    if args.quick:
        args.prompts, args.teacher_prompts, args.frames = 2, 1, 32
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for role, models, n in (("student", args.students, args.prompts), ("teacher", args.teachers,
                                                                            args.teacher_prompts)):
            prompts = heldout_prompts("shapes", n, 0)
            for model in models:
                rows.append(measure(model, role, prompts, args.frames, Path(tmp)))
                print(rows[-1], flush=True)
    print(f"\n# FIFO trained for or not: {args.prompts} student / {args.teacher_prompts} teacher prompts, "
          f"{args.frames}-frame videos, CPU (one thread)\n")
    for role in ("student", "teacher"):
        part = [r for r in rows if r["role"] == role]
        if part:
            print(markdown_table(part, [k for k in part[0] if k != "role"]) + "\n")
    summary = compare(rows)
    print("\n".join(summary) + "\n")
    path = write_results("fifo_training", rows, {"prompts": args.prompts, "teacher_prompts": args.teacher_prompts,
                                                 "frames": args.frames, "heldout_clips": HELDOUT_CLIPS,
                                                 "summary": summary},
                         args.output, models={m: m for m in [*args.students, *args.teachers]})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
