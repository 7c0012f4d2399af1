"""Export the mobile-0.6b denoiser (random weights) to Core ML with 4-bit palettization; size, ops and an estimated iPhone latency.

    python benchmarks/mobile_0_6b.py [--quick] [--quantize palettize4] [--keep DIR]

Measured here: export time, size on disk of the .mlpackage, parameter count, op counts of the
ML program. ESTIMATED, not measured: the iPhone 16 Pro (A18 Pro Neural Engine) latency of a
4-step video, from a roofline model (``mobilevid/export/npu_estimate.py`` states its constants).
The weights are random: size and structure are those of the trained model, quality is not measured.
``--quick`` runs the same path on the tiny preset's denoiser (a smoke run in about a minute).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import OrderedDict
from pathlib import Path

import torch

from mobilevid.export.components import Component, DenoiserExport
from mobilevid.export.coreml_target import QUANTIZE, export_coreml, inspect_coreml
from mobilevid.export.npu_estimate import (
    A18_PRO_DRAM_BYTES_PER_S,
    A18_PRO_NPU_OPS,
    BANDWIDTH_EFFICIENCY,
    FP16_IF_INT8_HEADLINE,
    SUSTAINED_EFFICIENCY,
    denoiser_activation_bytes,
    denoiser_flops,
    estimate_npu_seconds,
)
from mobilevid.models.presets import get_preset
from mobilevid.models.video_unet import VideoUNet

from _common import benchmark_parser, markdown_table, write_results

TARGET_MB = 350.0  # acceptance: the 4-bit Core ML denoiser fits in 350 MB
STEPS = 4  # SnapGen-V's distilled sampler; no classifier-free guidance (one call per step)


def denoiser_component(preset: str, seed: int = 0) -> Component:
    """The preset's denoiser with random weights and random inputs of its static export shapes."""
    cfg = get_preset(preset)
    den = cfg.denoiser
    torch.manual_seed(seed)
    module = DenoiserExport(VideoUNet(den), cfg.fps).eval()
    # Output layers start at zero (zero_module); a trained model's are not, and Core ML would
    # fold all-zero layers away and understate the size (~23M of 532M parameters in mobile-0.6b).
    with torch.no_grad():
        for p in module.parameters():
            if p.dim() > 1 and not p.any():
                p.normal_(0.0, 0.02)
    sample = OrderedDict(
        sample=torch.randn(1, den.num_frames, den.in_channels, den.latent_height, den.latent_width),
        timestep=torch.tensor([500.0]),
        text_states=torch.randn(1, cfg.text_max_length, den.cross_attention_dim),
        text_mask=torch.ones(1, cfg.text_max_length),
        pooled_text=torch.randn(1, den.pooled_text_dim),
    )
    return Component("denoiser", module, [sample], ("velocity",))


def package_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0])
    parser.add_argument("--quantize", default="palettize4", choices=QUANTIZE)
    parser.add_argument("--keep", type=Path, default=None, help="keep the .mlpackage in this folder")
    args = parser.parse_args()
    preset = "tiny" if args.quick else "mobile-0.6b"
    cfg = get_preset(preset)
    component = denoiser_component(preset)
    params = sum(p.numel() for p in component.module.parameters())

    out_dir = args.keep or Path(tempfile.mkdtemp(prefix="mobile_0_6b."))
    try:
        start = time.perf_counter()
        files = export_coreml(component, args.quantize, out_dir)
        export_s = time.perf_counter() - start
        paths = [out_dir / f for f in files]
        info = inspect_coreml(paths, component)
        size = sum(package_bytes(p) for p in paths)
    finally:
        if args.keep is None:
            shutil.rmtree(out_dir, ignore_errors=True)

    flops = denoiser_flops(cfg)
    bytes_moved = info["weights_bytes"] + denoiser_activation_bytes(cfg)
    step_s = estimate_npu_seconds(flops, bytes_moved)
    step_low_s = estimate_npu_seconds(flops, bytes_moved, peak_flops=A18_PRO_NPU_OPS * FP16_IF_INT8_HEADLINE)
    mb = size / 1e6
    den = cfg.denoiser
    rows = [
        {"quantity": "parameters", "value": f"{params / 1e6:.1f}M", "kind": "counted"},
        {"quantity": "export time (s)", "value": export_s, "kind": "measured, this CPU"},
        {"quantity": f".mlpackage size ({args.quantize}, MB)", "value": mb, "kind": "measured"},
        {"quantity": "weights on disk (MB)", "value": info["weights_bytes"] / 1e6, "kind": "measured"},
        {"quantity": "fp16 weights would be (MB)", "value": params * 2 / 1e6, "kind": "computed"},
        {"quantity": "files", "value": ", ".join(files), "kind": "measured"},
        {"quantity": "compute precision", "value": info["compute_precision"], "kind": "from the spec"},
        {"quantity": "FLOPs per denoiser call (T)", "value": flops / 1e12, "kind": "counted"},
        {"quantity": "DRAM traffic per call (GB)", "value": bytes_moved / 1e9, "kind": "estimated"},
        {"quantity": "iPhone 16 Pro s / step", "value": step_s, "kind": "ESTIMATE (roofline)"},
        {"quantity": f"iPhone 16 Pro s / {STEPS}-step video (denoiser only)", "value": STEPS * step_s,
         "kind": "ESTIMATE (roofline)"},
        {"quantity": f"same if 35 TOPS is int8-rate (fp16 at {FP16_IF_INT8_HEADLINE:g}x)",
         "value": STEPS * step_low_s, "kind": "ESTIMATE (pessimistic)"},
    ]
    top_ops = dict(list(info["op_counts"].items())[:12])
    passed = mb <= TARGET_MB
    print(f"# {preset} denoiser -> Core ML {args.quantize}: {den.num_frames} frames of "
          f"{den.in_channels}x{den.latent_height}x{den.latent_width} latents, batch 1, iOS18 ML program\n")
    print(markdown_table(rows))
    print("\nTop ops: " + ", ".join(f"{k} {v}" for k, v in top_ops.items()))
    print(f"fp32 ops (GroupNorm statistics): {info['float32_ops']}")
    print(f"\nLatency rows are ESTIMATES: max(FLOPs / ({A18_PRO_NPU_OPS / 1e12:g} TOPS x {SUSTAINED_EFFICIENCY}), "
          f"bytes / ({A18_PRO_DRAM_BYTES_PER_S / 1e9:g} GB/s x {BANDWIDTH_EFFICIENCY})); text encoder and VAE "
          "decoder not included.")
    if args.quantize == "palettize4" and not args.quick:
        print(f"Target <= {TARGET_MB:g} MB: {'PASS' if passed else 'FAIL'} ({mb:.1f} MB)")
    extra = {
        "preset": preset, "quantize": args.quantize, "files": files, "package_bytes": size,
        "weights_bytes": info["weights_bytes"], "params": params, "export_seconds": export_s,
        "op_counts": info["op_counts"], "float32_ops": info["float32_ops"],
        "inputs": info["inputs"], "outputs": info["outputs"],
        "flops_per_step": flops, "bytes_moved_per_step": bytes_moved,
        "estimate": {"label": "ESTIMATE, roofline, not measured on a device", "steps": STEPS,
                     "seconds_per_step": step_s, "seconds_per_video": STEPS * step_s,
                     "seconds_per_video_pessimistic": STEPS * step_low_s,
                     "peak_ops_per_s": A18_PRO_NPU_OPS, "sustained_efficiency": SUSTAINED_EFFICIENCY,
                     "dram_bytes_per_s": A18_PRO_DRAM_BYTES_PER_S, "bandwidth_efficiency": BANDWIDTH_EFFICIENCY,
                     "fp16_fraction_pessimistic": FP16_IF_INT8_HEADLINE},
        "target_mb": TARGET_MB, "target_passed": passed,
    }
    name = "mobile_0_6b_quick" if args.quick else "mobile_0_6b"
    print(f"\nwrote {write_results(name, rows, extra, args.output, models={preset: None})}")


if __name__ == "__main__":
    main()
