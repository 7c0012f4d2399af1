"""What distillation buys: teacher at 50 and 25 guided steps, teacher at 4 steps, 4-step student, in one run.

    python benchmarks/distill.py --teacher DIR --student [LABEL=]DIR[,...] [--suites shapes digits] [--prompts 64]
    python benchmarks/distill.py --teacher-steps --student full=A,no-adv=B,...   # ablations: students only

Same held-out prompts and seeds for every row. Reports seconds per video, model evaluations
per video and the eval-suite metrics, and the speed-up of the 4-step student over the
50-step guided teacher.
"""

from __future__ import annotations

from mobilevid.eval.suite import evaluate_model
from mobilevid.pipeline import Pipeline

from _common import benchmark_parser, markdown_table, write_results


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0])
    parser.add_argument("--teacher", default="teacher", help="teacher model folder or built-in name (default: teacher)")
    parser.add_argument("--teacher-steps", type=int, nargs="*", default=[50, 25, 4],
                        help="guided teacher runs to include (default 50 25 4; none = students only)")
    parser.add_argument("--student", required=True,
                        help="a student folder, or several (ablations) separated by commas, each optionally LABEL=DIR")
    parser.add_argument("--suites", nargs="+", default=["shapes", "digits"])
    parser.add_argument("--prompts", type=int, default=64)
    args = parser.parse_args()
    prompts = 8 if args.quick else args.prompts
    runs = []
    models: dict[str, str] = {}
    if args.teacher_steps:
        models["teacher"] = args.teacher
        teacher = Pipeline.from_pretrained(args.teacher)
        for steps in args.teacher_steps:
            runs.append((f"teacher {steps} steps + CFG" + (" (no distillation)" if steps <= 8 else ""), teacher, steps))
    for entry in args.student.split(","):
        label, _, path = entry.rpartition("=")
        runs.append((f"student {label or path}", Pipeline.from_pretrained(path), None))
        models[f"student {label or path}"] = path
    for _, pipe, steps in runs:
        # One untimed call each: the first call of a pipeline pays one-off set-up (allocator, kernel choice).
        pipe(["a warm-up call"], num_inference_steps=steps, seed=0)
    rows = []
    for suite in args.suites:
        for name, pipe, steps in runs:
            metrics = evaluate_model(pipe, suite, prompts, steps=steps, seed=0,
                                     label=f"{suite}: {name}")
            rows.append({"suite": suite, "run": name, **metrics})
            print(f"{suite}: {name}: {metrics}", flush=True)
    columns = ["suite", "run", "model_evaluations_per_video", "seconds_per_video"]
    base = {r["suite"]: r["seconds_per_video"] for r in rows if r["run"].startswith("teacher 50 ")}
    if base:
        for r in rows:
            r["speed-up vs teacher 50"] = base[r["suite"]] / r["seconds_per_video"]
        columns.append("speed-up vs teacher 50")
    columns += [k for k in rows[0] if k.endswith("accuracy")] + ["temporal_flickering", "fd_effnet"]
    for suite in args.suites:
        extra = [k for r in rows if r["suite"] == suite for k in r if k.endswith("accuracy") and k not in columns]
        columns += list(dict.fromkeys(extra))
    print(markdown_table(rows, columns))
    print(f"\nwrote {write_results('distill', rows, {'prompts': prompts}, args.output, models=models)}")


if __name__ == "__main__":
    main()
