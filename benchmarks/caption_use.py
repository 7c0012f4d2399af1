"""Which caption words each model uses: loss rise when a word is swapped (mobilevid/eval/caption_use.py).

    python benchmarks/caption_use.py --model teacher --model default [--model DIR ...] [--clips 12]

Same clips, noise and noise levels for every model and caption variant. A gain of 0 means the
model ignores that word; +0.10 means its loss is 10% higher with the wrong word.
"""

from __future__ import annotations

from mobilevid.benchmarking import benchmark_parser, markdown_table, write_results
from mobilevid.eval.caption_use import SUITES, caption_use
from mobilevid.pipeline import Pipeline


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="model folder or built-in name (repeatable; default: teacher)")
    parser.add_argument("--clips", type=int, default=12, help="training clips per suite (default 12)")
    args = parser.parse_args()
    models = args.model or ["teacher"]
    clips = 4 if args.quick else args.clips
    rows = []
    for model in models:
        pipe = Pipeline.from_pretrained(model)
        for suite in SUITES:
            for level, gains in caption_use(pipe, suite, clips=clips).items():
                rows.append({"model": model, "suite": suite, "noise level": level, **gains})
                print(rows[-1], flush=True)
    columns = ["model", "suite", "noise level", "true_loss", "direction", "colour", "shape", "digit"]
    print(markdown_table(rows, columns))
    print(f"\nwrote {write_results('caption_use', rows, {'clips': clips}, args.output)}")


if __name__ == "__main__":
    main()
