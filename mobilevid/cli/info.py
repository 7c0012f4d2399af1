"""``mobilevid info``: parameters per component, FLOPs per denoiser step, and the arch spec."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "info",
        help="parameters, FLOPs per denoiser step and arch spec of a preset or model folder",
        description="Print parameters per component, FLOPs per denoiser step (torch.utils.flop_counter, "
        "one clip, batch 1) and the temporal arch spec of a preset or a model folder.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("model", nargs="?", metavar="DIR", help="a model folder or a denoiser folder")
    src.add_argument("--preset", choices=["tiny", "small", "mobile-0.6b"], help="a built-in preset")
    p.add_argument("--json", metavar="FILE", help="also write the facts as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace the --json file if it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mobilevid.artifacts import write_json
    from mobilevid.info import format_info, model_info
    from mobilevid.output_paths import check_output_file

    if args.json:
        check_output_file(args.json, args.overwrite, "--json file")
    info = model_info(preset=args.preset, folder=args.model) if args.preset else model_info(folder=args.model)
    print(format_info(info))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)  # missing folders are created, as for every output
        write_json(args.json, info)
        print(f"\nwrote {args.json}")
    return 0
