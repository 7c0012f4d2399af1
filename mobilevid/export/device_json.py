"""The ``mobilevid.profile`` JSON: what ``mobilevid profile --json`` writes and ``--device-json`` reads.

Schema ``mobilevid.profile`` version 1 (also written by the Swift app on an iPhone). Fields marked *
are required in an imported file::

    {
      "schema": "mobilevid.profile",            *
      "schema_version": 1,                      *
      "created_by": "mobilevid 0.1.0",
      "device": {"name": str, "platform": str, "processor": str, "cpus": int},
      "bundle": str, "target": str, "quantize": str,
      "runtime": "onnxruntime" | "executorch" | "torch" | any string (e.g. "coreml"),
      "runs": int, "warmup": int,
      "threads": int | null,                    intra-op threads asked for (null: runtime defaults)
      "torch_threads": int,
      "components": {                           * at least one
        NAME: {                                 NAME: text_encoder, denoiser, vae_decoder
          "median_ms": float,                   * >= 0
          "p90_ms": float, "min_ms": float,
          "calls_per_video": int,
          "peak_rss_mb": float,                 process RSS high-water mark while loaded and run
          "rss_increase_mb": float,             that peak minus the RSS before loading it
          "bytes": int,                         size on disk (torch runtime: fp32 state dict)
          "inputs": [{"name", "shape", "dtype"}],
          "flops": int | null,                  one call
          "bytes_moved": int | null,            one call: weights on disk + conv/linear outputs (fp16)
          "npu_estimate_ms": float | null       ESTIMATE, see npu_estimate
        }
      },
      "memory_method": str,                     how peak RSS was measured
      "video": {                                null when a component is missing
        "steps": int, "guidance_scale": float, "calls_per_step": int, "denoiser_calls": int,
        "formula": str,
        "total_ms": float,                      from the components' medians
        "npu_estimate_ms": float | null         ESTIMATE
      },
      "denoiser_blocks": {                      null when the source model is not available
        "measured_with": "torch eager",
        "source": str,                          which model the hooks timed
        "total_ms": float,                      median of whole forward calls (hooks on)
        "parts_ms": float,                      sum of the units' medians + the median leftover
        "groups": [{"name", "ms", "share"}],    embed, down.L, mid, up.U, temporal, out, other;
                                                share = ms / parts_ms, so shares sum to 1
                                                (temporal layers in their own group)
        "units": [{"name", "group", "kind", "slot", "slot_name", "candidate", "channels",
                   "tokens_per_frame", "ms", "share"}]
                                                kind: embed | spatial | resample | temporal | out;
                                                one temporal unit per (slot, candidate)
      },
      "npu_estimate": {"label": "estimate", ...}  the estimator's constants and method
    }

Medians are per component over runs. A unit's ms is the median over runs of its hooked time in one
forward; ``other`` (reshapes, skip concatenations) the median of each run's unhooked remainder.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from mobilevid.artifacts import read_json
from mobilevid.errors import MobilevidError
from mobilevid.export.components import COMPONENTS

SCHEMA = "mobilevid.profile"
SCHEMA_VERSION = 1


def machine() -> dict[str, Any]:
    """This machine as a profile's ``device``: platform, processor, CPU count."""
    return {"name": "this machine", "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()}


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)


def validate_profile(data: Any, source: str = "profile") -> dict[str, Any]:
    """Check a ``mobilevid.profile`` v1 object (the required fields of the module docstring); one-line errors."""
    if not isinstance(data, dict):
        raise MobilevidError(f"{source}: a profile must be a JSON object")
    if data.get("schema") != SCHEMA or data.get("schema_version") != SCHEMA_VERSION:
        raise MobilevidError(f"{source}: unsupported schema {data.get('schema')!r} version "
                             f"{data.get('schema_version')!r} (expected {SCHEMA} v{SCHEMA_VERSION})")
    comps = data.get("components")
    if not isinstance(comps, dict) or not comps:
        raise MobilevidError(f"{source}: 'components' must be a non-empty object of component name -> timings")
    for name, comp in comps.items():
        if name not in COMPONENTS:
            raise MobilevidError(f"{source}: unknown component {name!r} (valid: {', '.join(COMPONENTS)})")
        if not isinstance(comp, dict) or not _is_number(comp.get("median_ms")) or comp["median_ms"] < 0:
            raise MobilevidError(f"{source}: components.{name}.median_ms must be a number >= 0")
        for key in ("p90_ms", "min_ms", "peak_rss_mb", "bytes"):
            if comp.get(key) is not None and not _is_number(comp[key]):
                raise MobilevidError(f"{source}: components.{name}.{key} must be a number")
    video = data.get("video")
    if video is not None and (not isinstance(video, dict)
                              or (video.get("total_ms") is not None and not _is_number(video["total_ms"]))):
        raise MobilevidError(f"{source}: 'video' must be an object whose total_ms is a number")
    if data.get("device") is not None and not isinstance(data["device"], dict):
        raise MobilevidError(f"{source}: 'device' must be an object")
    return data


def load_device_profile(path: str | Path) -> dict[str, Any]:
    return validate_profile(read_json(path, "device profile"), str(path))
