"""``mobilevid golden``: record one real run of an export bundle for the Swift package to replay."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "golden",
        help="write a bundle's golden vectors (token ids, noise, every sampler step, frames) for Swift",
        description="Run an export bundle once with the Python bundle runtime (ONNX Runtime or ExecuTorch "
        "XNNPACK; a Core ML bundle does not run here) and write golden vectors: token ids and masks of tricky "
        "prompts, the initial noise of several seeds, and one whole run (text encoder outputs, each sampler "
        "step's inputs and the denoiser's outputs, final latents, decoder output, uint8 frames). Format: "
        "index.json plus raw little-endian float32/int32/uint8 files. The Swift package replays them with "
        "'mobilevid-swift replay DIR' and must match Python's final latents to 1e-5 and its frames to one "
        "grey level.",
    )
    p.add_argument("--bundle", required=True, metavar="DIR", help="export bundle folder (with manifest.json)")
    p.add_argument("-o", "--output", metavar="DIR", help="folder to write (default: BUNDLE/golden)")
    p.add_argument("--prompt", help="the prompt of the recorded run (default: a built-in one)")
    p.add_argument("--seed", type=int, default=0, help="seed of the recorded run (default 0)")
    p.add_argument("--runtime", choices=["onnxruntime", "executorch"], help="runtime (default: the bundle's)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier golden folder at the output path")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mobilevid.errors import MobilevidError
    from mobilevid.export.golden import DEFAULT_PROMPT, write_golden
    from mobilevid.sampling import check_seed

    check_seed(args.seed)  # before loading anything
    prompt = DEFAULT_PROMPT if args.prompt is None else args.prompt  # an empty --prompt is an error, not the default
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError:  # bytes of another encoding on the command line
        raise MobilevidError(f"prompt '{prompt.encode('utf-8', 'replace').decode()}' is not UTF-8 text") from None
    out = write_golden(args.bundle, args.output, prompt=prompt, seed=args.seed,
                       runtime=args.runtime, overwrite=args.overwrite)
    print(f"wrote {out}: replay it with 'mobilevid-swift replay {out}'")
    return 0
