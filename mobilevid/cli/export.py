"""``mobilevid export``: a model folder -> a Core ML, ExecuTorch or ONNX bundle, gated on parity."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from mobilevid.export.options import valid_combinations

    p = subparsers.add_parser(
        "export",
        help="export a model to Core ML, ExecuTorch or ONNX (with quantization)",
        description="Export the text encoder, denoiser and VAE decoder with static shapes (batch 1, the model's "
        "frames and size) into a bundle folder with manifest.json, the contract the Swift app reads. Every "
        "component must pass a parity gate against PyTorch on real inputs where its runtime runs here "
        "(ONNX Runtime, ExecuTorch XNNPACK); Core ML models are checked by spec on Linux. A failed gate exits "
        "non-zero and writes no bundle. Valid combinations: " + "; ".join(valid_combinations()) + ".",
    )
    p.add_argument("--model", metavar="DIR", help="model folder, or a built-in model: default (the 4-step student) or teacher (default: default)")
    p.add_argument("--target", required=True, choices=["coreml", "executorch", "onnx"], help="export format")
    p.add_argument("--quantize", default="none", choices=["none", "int8", "int4", "palettize6", "palettize4", "w8a8"],
                   help="weight (and activation, w8a8) quantization (default none)")
    p.add_argument("--delegate", choices=["xnnpack", "coreml"], help="ExecuTorch backend (default xnnpack)")
    p.add_argument("--components", default="text_encoder,denoiser,vae_decoder",
                   help="comma-separated subset to export (default: all three)")
    p.add_argument("--parity-samples", type=int, default=3, help="real inputs checked per component (default 3)")
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="bundle folder to write: new or empty (missing parent folders are created)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --output if it is an earlier bundle (a folder with manifest.json); any other "
                   "existing file or folder is never replaced")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mobilevid.errors import MobilevidError
    from mobilevid.export.bundle import export_bundle
    from mobilevid.export.manifest import MANIFEST_NAME
    from mobilevid.export.options import check_combination
    from mobilevid.output_paths import check_output_dir
    from mobilevid.pipeline import Pipeline, resolve_model_dir

    check_combination(args.target, args.quantize, args.delegate)  # before any work
    check_output_dir(args.output, args.overwrite, MANIFEST_NAME, "bundle")
    if args.parity_samples < 1:
        raise MobilevidError(f"--parity-samples must be at least 1, got {args.parity_samples}")
    from mobilevid.export.components import COMPONENTS

    components = tuple(c.strip() for c in args.components.split(",") if c.strip())
    unknown = sorted(set(components) - set(COMPONENTS))
    if unknown or not components:
        raise MobilevidError(f"unknown component(s) {', '.join(unknown) or '(none given)'}; "
                             f"valid: {', '.join(COMPONENTS)}")
    model_dir = resolve_model_dir(args.model)
    pipe = Pipeline.from_pretrained(model_dir)
    manifest = export_bundle(pipe, model_dir, args.target, args.quantize, args.delegate, args.output,
                             parity_samples=args.parity_samples, components=components, overwrite=args.overwrite)
    for name, comp in manifest.components.items():
        diag = manifest.diagnostics.components[name]
        parity = diag.parity
        gate = (f"worst PSNR {parity['worst_db']} dB (gate {parity['threshold_db']} dB)" if "worst_db" in parity
                else f"not run here: {parity.get('reason', '')}")
        print(f"{name}: {', '.join(comp.files)} {diag.bytes / 1e6:.1f} MB; {gate}")
    print(f"wrote {Path(args.output)} ({manifest.diagnostics.export_seconds:.0f} s)")
    return 0
