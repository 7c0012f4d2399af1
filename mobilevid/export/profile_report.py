"""A profile as Markdown: the component table, the total per video, the denoiser blocks, a device comparison."""

from __future__ import annotations

from typing import Any

from mobilevid.export.components import COMPONENTS
from mobilevid.export.video_total import video_total


def _f(v: Any, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _threads(result: dict[str, Any]) -> str:
    if result.get("threads") is None:
        return f"each runtime's default threads (torch: {result.get('torch_threads')})"
    return f"{result['threads']} intra-op thread(s)"


def format_profile(result: dict[str, Any], device: dict[str, Any] | None = None) -> str:
    """Markdown: the component table, the total per video, the denoiser blocks and the device comparison."""
    dev = result["device"]
    lines = [f"# Profile of {result['bundle']} ({result['target']}, quantize {result['quantize']}) "
             f"on {result['runtime']}", "",
             f"This machine: {dev.get('platform')}, {dev.get('cpus')} CPUs; median and p90 of {result['runs']} runs "
             f"after {result['warmup']} warm-up runs, random inputs of the bundle's shapes, "
             f"{_threads(result)}.", "",
             "| component | calls / video | median ms | p90 ms | peak RSS MB | size MB | NPU estimate ms |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    comps = result["components"]
    for name, c in comps.items():
        lines.append(f"| {name} | {c['calls_per_video']} | {_f(c['median_ms'])} | {_f(c['p90_ms'])} | "
                     f"{_f(c['peak_rss_mb'], 0)} (+{_f(c.get('rss_increase_mb'), 0)}) | {_f(c['bytes'] / 1e6)} | "
                     f"{_f(c.get('npu_estimate_ms'))} |")
    video = result["video"]
    size = sum(c["bytes"] for c in comps.values())
    if video and video["total_ms"] is not None:
        lines.append(f"| **total per video** | | **{_f(video['total_ms'])}** | | | **{_f(size / 1e6)}** | "
                     f"**{_f(video.get('npu_estimate_ms'))}** |")
        lines += ["", f"Total per video = {video['formula']} (guidance {video['guidance_scale']}: "
                      f"{video['denoiser_calls']} denoiser calls)."]
    else:
        lines += ["", "Total per video: not computed (the bundle lacks a component)."]
    lines.append(f"Peak RSS: {result['memory_method']}, the process's high-water mark while the component "
                 "was loaded and run once (+ what loading and running it added).")
    if result.get("npu_estimate"):
        lines.append("NPU column: an **estimate** of iPhone-class Neural Engine latency (roofline from FLOPs and "
                     "bytes moved, mobilevid/export/npu_estimate.py), not a measurement.")
    elif result.get("npu_estimate_error"):
        lines.append(f"NPU estimate: {result['npu_estimate_error']}.")
    blocks = result.get("denoiser_blocks")
    if blocks:
        lines += ["", f"## Denoiser blocks: torch eager, measured ({blocks['source']}; one call "
                      f"{_f(blocks['total_ms'])} ms)", "",
                  "| block | ms | share |", "|---|---:|---:|"]
        lines += [f"| {g['name']} | {_f(g['ms'])} | {100 * g['share']:.1f}% |" for g in blocks["groups"]]
        lines += ["", "Measured in torch eager with forward hooks, not in the bundle's runtime; per-slot "
                      "spatial and temporal units are in the JSON (denoiser_blocks.units)."]
    elif result.get("source_model_error"):
        lines += ["", f"Denoiser blocks: not measured ({result['source_model_error']})."]
    if device is not None:
        lines += ["", _format_device(result, device)]
    return "\n".join(lines)


def _format_device(result: dict[str, Any], device: dict[str, Any]) -> str:
    info = device.get("device") or {}
    name = info.get("name") or "device"
    theirs = device["components"]
    lines = [f"## This machine vs {name} ({device.get('runtime', '?')}, imported)", "",
             f"| component | this machine ms ({result['runtime']}) | {name} ms | {name} / this | NPU estimate ms |",
             "|---|---:|---:|---:|---:|"]
    for comp in COMPONENTS:
        ours, other = result["components"].get(comp), theirs.get(comp)
        if ours is None and other is None:
            continue
        a = ours["median_ms"] if ours else None
        b = other["median_ms"] if other else None
        ratio = _f(b / a, 3) if a and b is not None else "-"
        est = ours.get("npu_estimate_ms") if ours else None
        lines.append(f"| {comp} | {_f(a)} | {_f(b)} | {ratio} | {_f(est)} |")
    ours_total = (result.get("video") or {}).get("total_ms")
    their_video = device.get("video") or {}
    their_total = their_video.get("total_ms")
    if their_total is None and result.get("video"):
        their_total = video_total(theirs, {"steps": result["video"]["steps"],
                                           "guidance_scale": result["video"]["guidance_scale"]})["total_ms"]
    ratio = _f(their_total / ours_total, 3) if ours_total and their_total is not None else "-"
    lines.append(f"| **total per video** | {_f(ours_total)} | {_f(their_total)} | {ratio} | "
                 f"{_f((result.get('video') or {}).get('npu_estimate_ms'))} |")
    return "\n".join(lines)
