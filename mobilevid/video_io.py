"""Writing videos people can open: H.264 MP4 through PyAV, GIF through Pillow, PNG frame grids."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np
import torch

from mobilevid.errors import MobilevidError
from mobilevid.sampling import pixels_to_uint8

VIDEO_SUFFIXES = (".mp4", ".gif")


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """(F, 3, H, W) floats in [0, 1] -> (F, H, W, 3) uint8."""
    return pixels_to_uint8(frames).permute(0, 2, 3, 1).cpu().numpy()


def _tmp_sibling(path: Path) -> Path:
    return path.parent / f".{path.stem}.tmp-{uuid.uuid4().hex[:8]}{path.suffix}"


def write_video(path: str | Path, frames: torch.Tensor, fps: float = 8.0) -> Path:
    """Write (F, 3, H, W) frames in [0, 1] as MP4 (H.264) or GIF, chosen by the suffix; atomically."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise MobilevidError(f"unsupported video file type '{path.suffix}' (use .mp4 or .gif)")
    path.parent.mkdir(parents=True, exist_ok=True)
    array = to_uint8(frames)
    tmp = _tmp_sibling(path)
    try:
        if path.suffix.lower() == ".gif":
            from PIL import Image

            images = [Image.fromarray(f) for f in array]
            images[0].save(tmp, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
        else:
            _write_mp4(tmp, array, fps)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write_mp4(path: Path, array: np.ndarray, fps: float) -> None:
    import av

    f, h, w, _ = array.shape
    # H.264 with yuv420p needs even sizes; tiny videos are upscaled so players show them at a sensible size.
    scale = max(1, 256 // max(h, w))
    out_h, out_w = h * scale + (h * scale) % 2, w * scale + (w * scale) % 2
    with av.open(str(path), mode="w", format="mp4") as container:
        from fractions import Fraction

        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = out_w, out_h, "yuv420p"
        stream.options = {"crf": "17"}
        for frame in array:
            big = np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1)
            big = np.pad(big, ((0, out_h - big.shape[0]), (0, out_w - big.shape[1]), (0, 0)), mode="edge")
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(big), format="rgb24")))
        container.mux(stream.encode())


def write_grid(path: str | Path, videos: torch.Tensor) -> Path:
    """A PNG with one row per video and one column per frame; videos (B, F, 3, H, W) in [0, 1]."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    b, f, _, h, w = videos.shape
    rows = [np.concatenate(list(to_uint8(v)), axis=1) for v in videos]
    grid = np.concatenate(rows, axis=0)
    tmp = _tmp_sibling(path)
    Image.fromarray(grid).save(tmp, format="PNG")
    os.replace(tmp, path)
    return path
