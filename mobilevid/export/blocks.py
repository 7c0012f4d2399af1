"""Per-block latency of the denoiser in torch eager: forward hooks on ``VideoUNet``'s units.

The latency table the architecture search reads: embed, each slot's spatial layer and temporal
candidates, resampling, output; each unit's share of one forward call.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch


def _block_units(unet: Any) -> list[tuple[str, str, str, dict[str, Any], list[torch.nn.Module]]]:
    """(unit name, group, kind, facts, modules) in forward order, for ``VideoUNet``'s structure."""
    from mobilevid.models.arch_spec import parse_arch, slot_table

    cfg = unet.config
    slots = slot_table(cfg)
    arch = parse_arch(cfg.arch, cfg)
    units: list[tuple[str, str, str, dict[str, Any], list[torch.nn.Module]]] = []
    embed = [m for m in (unet.conv_in, unet.time_proj, unet.time_embedding, unet.text_embedding,
                         unet.fps_embedding, unet.visual_condition) if m is not None]
    units.append(("embed", "embed", "embed", {}, embed))

    def slot_units(index: int, group: str, spatial: list[torch.nn.Module]) -> None:
        s = slots[index]
        facts = {"slot": index, "slot_name": s.name, "channels": s.channels, "tokens_per_frame": s.height * s.width}
        units.append((f"{s.name}.spatial", group, "spatial", facts, [m for m in spatial if m is not None]))
        layers = unet.temporal[str(index)] if str(index) in unet.temporal else []
        for name, layer in zip(arch.get(index, []), layers, strict=True):
            units.append((f"{s.name}.temporal.{name}", "temporal", "temporal", {**facts, "candidate": name}, [layer]))

    slot = 0
    for level, (layers, down) in enumerate(zip(unet.down_blocks, unet.downsamplers, strict=True)):
        for layer in layers:
            slot_units(slot, f"down.{level}", [layer.resnet, layer.attention])
            slot += 1
        if not isinstance(down, torch.nn.Identity):
            units.append((f"down.{level}.downsample", f"down.{level}", "resample", {}, [down]))
    slot_units(slot, "mid", [unet.mid_resnet_1, unet.mid_attention, unet.mid_resnet_2])
    slot += 1
    for up, (layers, sampler) in enumerate(zip(unet.up_blocks, unet.upsamplers, strict=True)):
        for layer in layers:
            slot_units(slot, f"up.{up}", [layer.resnet, layer.attention])
            slot += 1
        if not isinstance(sampler, torch.nn.Identity):
            units.append((f"up.{up}.upsample", f"up.{up}", "resample", {}, [sampler]))
    units.append(("out", "out", "out", {}, [unet.conv_norm_out, unet.conv_act, unet.conv_out]))
    return units


@torch.no_grad()
def denoiser_breakdown(module: torch.nn.Module, unet: Any, inputs: Sequence[torch.Tensor], runs: int,
                       warmup: int) -> dict[str, Any]:
    """Time ``module(*inputs)`` (a denoiser wrapping ``unet``) in torch eager, split by block with forward hooks.

    Each unit's time is the median over runs of its summed hook-to-hook time in one forward;
    ``other`` is what no hooked module covers (reshapes, concatenations of skips).
    """
    units = _block_units(unet)
    current: dict[str, float] = {}
    starts: dict[int, float] = {}
    handles = []

    def hooks(name: str) -> tuple[Callable, Callable]:
        def pre(mod: torch.nn.Module, args: Any) -> None:
            starts[id(mod)] = time.perf_counter()

        def post(mod: torch.nn.Module, args: Any, out: Any) -> None:
            current[name] = current.get(name, 0.0) + time.perf_counter() - starts.pop(id(mod))

        return pre, post

    for name, _, _, _, modules in units:
        pre, post = hooks(name)
        for m in modules:
            handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    per_unit: dict[str, list[float]] = {name: [] for name, *_ in units}
    totals: list[float] = []
    try:
        for i in range(warmup + runs):
            current.clear()
            start = time.perf_counter()
            module(*inputs)
            total = time.perf_counter() - start
            if i >= warmup:
                totals.append(total)
                for name in per_unit:
                    per_unit[name].append(current.get(name, 0.0))
    finally:
        for h in handles:
            h.remove()
    # Per-run leftovers, so the parts (unit medians + the median leftover) add up on a noisy machine too.
    other = statistics.median(max(0.0, t - sum(per_unit[n][i] for n in per_unit)) for i, t in enumerate(totals)) * 1e3
    parts_ms = sum(statistics.median(v) for v in per_unit.values()) * 1e3 + other
    rows = []
    for name, group, kind, facts, _ in units:
        ms = statistics.median(per_unit[name]) * 1e3
        rows.append({"name": name, "group": group, "kind": kind, "slot": facts.get("slot"),
                     "slot_name": facts.get("slot_name"), "candidate": facts.get("candidate"),
                     "channels": facts.get("channels"), "tokens_per_frame": facts.get("tokens_per_frame"),
                     "ms": round(ms, 4), "share": round(ms / parts_ms, 4)})
    groups: dict[str, float] = {}
    for r in rows:
        groups[r["group"]] = groups.get(r["group"], 0.0) + r["ms"]
    # Temporal layers as their own group, after the spatial path's groups.
    order = [g for g in groups if g != "temporal"] + (["temporal"] if "temporal" in groups else [])
    group_rows = [{"name": g, "ms": round(groups[g], 4), "share": round(groups[g] / parts_ms, 4)} for g in order]
    group_rows.append({"name": "other", "ms": round(other, 4), "share": round(other / parts_ms, 4)})
    return {"measured_with": "torch eager", "total_ms": round(statistics.median(totals) * 1e3, 4),
            "parts_ms": round(parts_ms, 4), "groups": group_rows, "units": rows}
