"""What bounds a few-step student's speed-up: one denoiser evaluation against one VAE decode, side by side.

    python benchmarks/step_vs_decode.py [--model DIR] [--batch 8] [--quick]

Times, per clip (16 frames at the model's resolution, batch ``--batch``), a denoiser call and
the VAE decode, in fp32 and under CPU bf16 autocast (where the CPU supports it). A video from
a 4-step student costs 4 evaluations + 1 decode; from the 50-step guided teacher 100 + 1, so
the decode caps the achievable ratio: (100 d + V) / (4 d + V).
"""

from __future__ import annotations

import contextlib

import torch

from mobilevid.pipeline import Pipeline

from _common import benchmark_parser, markdown_table, time_call, write_results


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model folder or built-in name (default: the default model)")
    parser.add_argument("--batch", type=int, default=8, help="clips per call (benchmarks/distill.py uses 8)")
    args = parser.parse_args()
    pipe = Pipeline.from_pretrained(args.model)
    cfg = pipe.config
    b = args.batch
    states, pooled, mask = pipe.encode_prompts(["a red circle moving right"] * b)
    latents = torch.randn(b, cfg.num_frames, cfg.denoiser.in_channels, cfg.denoiser.latent_height,
                          cfg.denoiser.latent_width)
    t = torch.full((b,), 500.0)
    fps = torch.full((b,), float(cfg.fps))
    repeats = 2 if args.quick else 5
    precisions = [("fp32", contextlib.nullcontext)]
    if torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        precisions.append(("bf16 autocast", lambda: torch.autocast("cpu", dtype=torch.bfloat16)))
    rows = []
    with torch.no_grad():
        for name, ctx in precisions:
            def step(ctx=ctx) -> None:
                with ctx():
                    pipe.denoiser(latents, t, states, encoder_attention_mask=mask, pooled_text=pooled, fps=fps)

            def decode(ctx=ctx) -> None:
                with ctx():
                    pipe.vae.decode(latents)

            d = time_call(step, warmup=1, repeats=repeats) / b
            v = time_call(decode, warmup=1, repeats=repeats) / b
            rows.append({"precision": name, "denoiser s / eval / clip": d, "VAE decode s / clip": v,
                         "decode / eval": v / d, "bound: (100 d + V) / (4 d + V)": (100 * d + v) / (4 * d + v)})
            print(rows[-1], flush=True)
    print(markdown_table(rows, list(rows[0])))
    print(f"\nwrote {write_results('step_vs_decode', rows, {'batch': b, 'threads': torch.get_num_threads()}, args.output, models={'model': args.model})}")


if __name__ == "__main__":
    main()
