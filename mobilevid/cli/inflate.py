"""``mobilevid inflate``: an image UNet (local diffusers folder) -> a text-to-video model folder to train from."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "inflate",
        help="turn a local diffusers UNet2DConditionModel folder into a video model folder to fine-tune",
        description="Load a local diffusers UNet2DConditionModel folder (config.json + safetensors) into the "
        "spatial backbone through a weight map, add the temporal layers named by an arch spec "
        "(zero-initialised, so the result equals the image model frame by frame) and write a full model "
        "folder: the denoiser, a VAE (--vae, or a fresh one of --preset's config), the rectified-flow "
        "scheduler and the text-encoder settings. Continue it with "
        "`mobilevid train --set init_from=DIR --output RUN` (with a fresh VAE that trains the VAE first).",
    )
    p.add_argument("--image-unet", required=True, metavar="DIR", help="diffusers UNet2DConditionModel folder")
    p.add_argument("--arch", metavar="SPEC", help="arch spec JSON (default: temporal conv + attention in every slot)")
    p.add_argument("--frames", type=int, default=16, help="frames per clip the model is built for (default 16)")
    p.add_argument("--freeze-backbone", action="store_true",
                   help="training keeps the image UNet's weights fixed: only the temporal layers and the other "
                   "modules an image UNet lacks train (recorded in the denoiser's config)")
    p.add_argument("--vae", metavar="DIR",
                   help="VAE to pair it with: a VAE folder, a model folder or a built-in model name "
                   "(default: a fresh VAE of --preset's config, trained when training starts)")
    p.add_argument("--preset", default="tiny", choices=["tiny", "small", "mobile-0.6b"],
                   help="preset giving the fresh VAE's config and the frame rate (default tiny)")
    p.add_argument("--text-encoder", default=None, metavar="NAME|DIR",
                   help="text encoder whose hidden size is the image UNet's cross_attention_dim "
                   "(default all-MiniLM-L6-v2, 384)")
    p.add_argument("--text-max-length", type=int, default=32, metavar="N", help="prompt tokens (default 32)")
    p.add_argument("--output", "-o", required=True, metavar="DIR",
                   help="where to write the model folder: new or empty (missing parent folders are created)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --output if it is an earlier model folder (with model_index.json); any other "
                   "existing file or folder is never replaced")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mobilevid.errors import MobilevidError
    from mobilevid.models.arch_spec import load_arch
    from mobilevid.models.inflate import write_inflated_model
    from mobilevid.models.text_encoder import BUILTIN_ENCODER
    from mobilevid.output_paths import check_output_dir

    if args.frames < 1:
        raise MobilevidError(f"--frames must be at least 1, got {args.frames}")
    if args.text_max_length < 1:
        raise MobilevidError(f"--text-max-length must be at least 1, got {args.text_max_length}")
    if not Path(args.image_unet).is_dir():
        raise MobilevidError(f"image UNet folder not found: {args.image_unet}")
    out = check_output_dir(args.output, args.overwrite, "model_index.json", "model folder")
    arch = load_arch(args.arch) if args.arch else None
    path = write_inflated_model(args.image_unet, out, arch=arch, num_frames=args.frames,
                                freeze_backbone=args.freeze_backbone, vae=args.vae, preset=args.preset,
                                text_encoder=args.text_encoder or BUILTIN_ENCODER,
                                text_max_length=args.text_max_length, overwrite=args.overwrite)
    from mobilevid.pipeline import Pipeline

    model = Pipeline.from_pretrained(path).denoiser
    n_all = sum(p.numel() for p in model.parameters())
    n_new = sum(p.numel() for n, p in model.named_parameters() if model.new_after_inflation(n))
    vae = "a fresh VAE (trained first when training starts)" if args.vae is None else f"the VAE of {args.vae}"
    print(f"wrote {path}: {n_all / 1e6:.2f}M denoiser parameters ({n_new / 1e6:.2f}M new after inflation"
          f"{', the rest frozen in training' if args.freeze_backbone else ''}), {vae}")
    print(f"continue it: mobilevid train --set init_from={path} --output RUN")
    return 0
