"""Seconds per video of ``generate``, for the teacher and its 4-step student side by side.

    python benchmarks/generate.py [--model teacher --model default ...] [--repeats 3] [--quick]

Each model samples "a red circle moving right" at its own steps and guidance (the teacher: guided
Euler steps, two denoiser calls per step; the student: one call per step, no guidance), 16
frames at the model's resolution, decode included, on this machine's CPU. Reports seconds per
video (the median of ``--repeats`` timed videos after one untimed one) as process CPU time, which
a one-thread run on a shared machine spends as it would on an idle core, and as wall time;
denoiser evaluations per video, CPU milliseconds per evaluation, and each model's CPU time against
the first model's. Run it on one thread (``OMP_NUM_THREADS=1``) for the CPU time to mean one core.
"""

from __future__ import annotations

import statistics

from mobilevid.export.timing import wall_and_cpu_runs
from mobilevid.pipeline import Pipeline

from _common import benchmark_parser, markdown_table, write_results

PROMPT = "a red circle moving right"


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", action="append",
                        help="model folder or built-in name (repeatable; default: teacher, then default)")
    parser.add_argument("--repeats", type=int, default=3, help="timed videos per model (default 3)")
    args = parser.parse_args()
    models = args.model or ["teacher", "default"]
    repeats = 1 if args.quick else args.repeats
    rows = []
    for model in models:
        pipe = Pipeline.from_pretrained(model)
        result = pipe(PROMPT)  # untimed: the first call pays one-off set-up
        wall, cpu = wall_and_cpu_runs(lambda pipe=pipe: pipe(PROMPT), repeats, warmup=0)
        seconds = statistics.median(cpu)
        rows.append({
            "model": model,
            "steps": len(pipe.sigmas()) - 1,
            "guidance": pipe.config.sampling.guidance,
            "model evaluations": result.model_evaluations,
            "CPU s / video": seconds,
            "wall s / video": statistics.median(wall),
            "CPU ms / evaluation": 1e3 * seconds / result.model_evaluations,
        })
    for row in rows:
        row[f"speed-up vs {models[0]}"] = rows[0]["CPU s / video"] / row["CPU s / video"]
    print(f"# generate: one video of {PROMPT!r}, CPU\n")
    print(markdown_table(rows))
    path = write_results("generate", rows, {"prompt": PROMPT, "repeats": repeats}, args.output,
                         models={m: m for m in models})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
