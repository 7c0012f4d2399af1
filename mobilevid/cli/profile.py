"""``mobilevid profile``: per-component latency, peak memory and size of an export bundle, per video."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "profile",
        help="latency, peak memory and size per component of an export bundle",
        description="Time each component of an export bundle on this machine (warm-up runs, then the median and "
        "p90 of --runs runs on the bundle's input shapes), the total per video (text encoder + steps x denoiser "
        "calls per step + VAE decoder), peak resident memory and size on disk per component, a per-block "
        "breakdown of the denoiser measured in torch eager, and an estimated iPhone-class NPU latency from "
        "FLOPs and bytes moved (an estimate, not a measurement). Prints a Markdown table; --json writes the "
        "mobilevid.profile v1 JSON, the schema --device-json reads (e.g. measured by the Swift app on a phone).",
    )
    p.add_argument("--bundle", required=True, metavar="DIR", help="export bundle folder (with manifest.json)")
    p.add_argument("--runtime", choices=["onnxruntime", "executorch", "torch"],
                   help="runtime (default: the bundle's; torch times the source model's PyTorch components)")
    p.add_argument("--runs", type=int, default=10, help="timed runs per component (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed warm-up runs per component (default 2)")
    p.add_argument("--threads", type=int, help="intra-op threads for every runtime (default: each runtime's own; "
                   "1 gives steadier numbers on a machine shared with other jobs)")
    p.add_argument("--no-blocks", action="store_true", help="skip the denoiser's per-block breakdown")
    p.add_argument("--json", metavar="FILE", help="write the whole profile as JSON (schema mobilevid.profile v1)")
    p.add_argument("--overwrite", action="store_true", help="replace the --json file if it exists")
    p.add_argument("--device-json", metavar="FILE",
                   help="a profile measured on a device (same schema) to print side by side with this machine's")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from mobilevid.artifacts import write_json
    from mobilevid.export.profiling import format_profile, load_device_profile, profile_bundle
    from mobilevid.output_paths import check_output_file

    device = load_device_profile(args.device_json) if args.device_json else None  # fail before timing
    if args.json:
        check_output_file(args.json, args.overwrite, "--json file")
    result = profile_bundle(args.bundle, args.runtime, args.runs, args.warmup, breakdown=not args.no_blocks, threads=args.threads,
                            log=lambda msg: print(msg, file=sys.stderr))
    print(format_profile(result, device))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)  # missing folders are created, as for every output
        write_json(args.json, result)
        print(f"\nwrote {args.json}")
    return 0
