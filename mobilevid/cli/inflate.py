"""``mobilevid inflate``: an image UNet (local diffusers folder) -> a video denoiser folder."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "inflate",
        help="turn a local diffusers UNet2DConditionModel folder into a video denoiser",
        description="Load a local diffusers UNet2DConditionModel folder (config.json + safetensors) into the "
        "spatial backbone through a weight map, add the temporal layers named by an arch spec "
        "(zero-initialised, so the result equals the image model frame by frame) and write a "
        "denoiser folder (config.json + model.safetensors).",
    )
    p.add_argument("--image-unet", required=True, metavar="DIR", help="diffusers UNet2DConditionModel folder")
    p.add_argument("--arch", metavar="SPEC", help="arch spec JSON (default: temporal conv + attention in every slot)")
    p.add_argument("--frames", type=int, default=16, help="frames per clip the model is built for (default 16)")
    p.add_argument("--freeze-backbone", action="store_true",
                   help="record the spatial backbone as frozen (only temporal layers train)")
    p.add_argument("--output", "-o", required=True, metavar="DIR", help="where to write the denoiser folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mobilevid.artifacts import read_json
    from mobilevid.errors import MobilevidError
    from mobilevid.models.arch_spec import full_arch, load_arch
    from mobilevid.models.inflate import config_from_diffusers, inflate_image_unet

    if args.frames < 1:
        raise MobilevidError(f"--frames must be at least 1, got {args.frames}")
    if not Path(args.image_unet).is_dir():
        raise MobilevidError(f"image UNet folder not found: {args.image_unet}")
    arch = load_arch(args.arch) if args.arch else None
    if arch is None:
        base = config_from_diffusers(read_json(Path(args.image_unet) / "config.json"), num_frames=args.frames)
        arch = full_arch(base)
    model = inflate_image_unet(args.image_unet, arch=arch, num_frames=args.frames,
                               freeze_backbone=args.freeze_backbone)
    extra = {"inflated_from.json": {"image_unet": str(Path(args.image_unet).resolve()),
                                     "freeze_backbone": args.freeze_backbone}}
    model.save_pretrained(args.output, extra_json=extra)
    n_all = sum(p.numel() for p in model.parameters())
    n_tmp = sum(p.numel() for p in model.temporal.parameters())
    print(f"wrote {args.output}: {n_all / 1e6:.2f}M parameters ({n_tmp / 1e6:.2f}M temporal)")
    return 0
