"""mobilevid: text-to-video diffusion models that run on phones.

Inflate a compact image backbone with searched temporal layers (SnapGen-V, MagicVideo),
train and distil it, and export it quantized to Core ML, ExecuTorch and ONNX.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from mobilevid.models.video_unet import VideoUNet
    from mobilevid.pipeline import Pipeline, PipelineOutput

# Heavy imports (torch, diffusers) are deferred so `mobilevid --help` stays fast.
_LAZY = {
    "VideoUNet": "mobilevid.models.video_unet",
    "Pipeline": "mobilevid.pipeline",
    "PipelineOutput": "mobilevid.pipeline",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mobilevid' has no attribute {name!r}")


__all__ = ["Pipeline", "PipelineOutput", "VideoUNet", "__version__"]
