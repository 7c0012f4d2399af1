"""Cost of each temporal candidate in each slot of a preset: parameters, FLOPs and CPU latency, side by side.

    python benchmarks/temporal_layers.py [--preset tiny] [--quick]

Latency is torch eager fp32 on this machine's CPU (one clip), the median of repeated runs;
this is the kind of table the architecture search's latency lookup is built from.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from mobilevid.models.arch_spec import allowed_candidates, slot_table
from mobilevid.models.presets import get_preset
from mobilevid.models.temporal import TemporalContext, build_candidate

from _common import benchmark_parser, markdown_table, time_call, write_results


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    cfg = get_preset(args.preset).denoiser
    f = cfg.num_frames
    rows = []
    seen = set()
    for slot in slot_table(cfg):
        key = (slot.channels, slot.height, slot.width)
        if key in seen:  # slots of the same shape cost the same
            continue
        seen.add(key)
        x = torch.randn(f, slot.channels, slot.height, slot.width)
        ctx = TemporalContext(num_frames=f, text=torch.randn(1, cfg.cross_attention_dim, 1, 32))
        for name in allowed_candidates(slot, cfg):
            layer = build_candidate(name, slot.channels, cfg.norm_num_groups, cfg.temporal_head_dim,
                                    cfg.cross_attention_dim, cfg.num_frames).eval()
            counter = FlopCounterMode(display=False)
            with torch.no_grad(), counter:
                layer(x, ctx)
            with torch.no_grad():
                seconds = time_call(lambda layer=layer, x=x, ctx=ctx: layer(x, ctx), warmup=1, repeats=3 if args.quick else 10)
            rows.append({
                "slot": slot.name, "channels": slot.channels, "tokens/frame": slot.height * slot.width,
                "candidate": name, "params": sum(p.numel() for p in layer.parameters()),
                "MFLOPs": counter.get_total_flops() / 1e6, "ms (torch eager, CPU)": seconds * 1e3,
            })
    print(f"# Temporal candidates on preset '{args.preset}' ({f} frames, one clip)\n")
    print(markdown_table(rows))
    path = write_results("temporal_layers", rows, {"preset": args.preset, "frames": f}, args.output,
                         models={args.preset: None})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
