"""Time ``generate`` with a model at its own steps against the same sampler at 50 steps, side by side.

    python benchmarks/generate.py [--model DIR] [--quick]

Reports seconds per video, model evaluations per video and seconds per evaluation (the
per-step cost), for 16 frames at the model's resolution, on this machine's CPU.
"""

from __future__ import annotations

from mobilevid.pipeline import Pipeline

from _common import benchmark_parser, markdown_table, time_call, write_results


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default="teacher",
                        help="model folder or built-in name (default: teacher; benchmarks/distill.py times the student)")
    args = parser.parse_args()
    pipe = Pipeline.from_pretrained(args.model)
    prompt = "a red circle moving right"
    own = pipe.config.sampling
    settings = [("model default", None), ("50 steps", 50)]
    rows = []
    for name, steps in settings:
        result = pipe(prompt, num_inference_steps=steps)
        seconds = time_call(lambda steps=steps: pipe(prompt, num_inference_steps=steps),
                            warmup=0 if args.quick else 1, repeats=1 if args.quick else 3)
        rows.append({
            "setting": name,
            "steps": len(pipe.sigmas(steps)) - 1,
            "guidance": own.guidance,
            "model evaluations": result.model_evaluations,
            "seconds / video": seconds,
            "ms / evaluation": 1e3 * seconds / result.model_evaluations,
        })
    rows.append({"setting": "ratio (50 steps / default)", "seconds / video": rows[1]["seconds / video"] /
                 rows[0]["seconds / video"]})
    frames, h, w = pipe.config.num_frames, pipe.config.height, pipe.config.width
    print(f"# generate: {frames} frames at {h}x{w}, one video, CPU\n")
    print(markdown_table(rows))
    print(f"\nwrote {write_results('generate', rows, {'model': args.model or 'default'}, args.output)}")


if __name__ == "__main__":
    main()
