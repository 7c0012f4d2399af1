"""Which way each model expects "a red circle moving D" to move, from the caption alone (mobilevid/eval/motion_prior.py).

    python benchmarks/motion_prior.py --model teacher --model DIR [--seeds 16]

Drift (dx, dy) in pixels, last frame minus first, of the red centroid of the model's mean clean
clip at t = 1 (pure noise), and of the mean of real training clips. Real clips move half the
frame (+-32 px at 64x64) in the caption's direction; a model that ignores the direction word
shows the same drift for every word.
"""

from __future__ import annotations

from mobilevid.benchmarking import benchmark_parser, markdown_table, write_results
from mobilevid.eval.motion_prior import DIRECTIONS, data_motion_prior, model_motion_prior
from mobilevid.pipeline import Pipeline


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="model folder or built-in name (repeatable; default: teacher)")
    parser.add_argument("--seeds", type=int, default=16, help="noise seeds averaged per caption (default 16)")
    args = parser.parse_args()
    seeds = 4 if args.quick else args.seeds
    rows = []
    for model in args.model or ["teacher"]:
        pipe = Pipeline.from_pretrained(model)
        drift = model_motion_prior(pipe, seeds=seeds)
        rows.append({"source": model, **{d: f"({x:+.1f}, {y:+.1f})" for d, (x, y) in drift.items()}})
        print(rows[-1], flush=True)
        frames, size = pipe.config.num_frames, pipe.config.height
    drift = data_motion_prior(frames, size)
    rows.append({"source": "real clips (mean of 16)", **{d: f"({x:+.1f}, {y:+.1f})" for d, (x, y) in drift.items()}})
    print(markdown_table(rows, ["source", *DIRECTIONS]))
    print(f"\nwrote {write_results('motion_prior', rows, {'seeds': seeds}, args.output)}")


if __name__ == "__main__":
    main()
