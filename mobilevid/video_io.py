"""Writing videos people can open: H.264 MP4 through PyAV, GIF through Pillow, PNG frame grids.

Every file is written under a hidden temporary name and renamed into place; an existing file is
replaced only with ``overwrite`` (a folder never), and the next write of a name removes what a
killed write of it left (``mobilevid.artifacts.remove_killed_writes``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from mobilevid.artifacts import remove_killed_writes, temp_sibling
from mobilevid.errors import MobilevidError
from mobilevid.output_paths import check_output_file
from mobilevid.sampling import pixels_to_uint8

VIDEO_SUFFIXES = (".mp4", ".gif")


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """(F, 3, H, W) floats in [0, 1] -> (F, H, W, 3) uint8."""
    return pixels_to_uint8(frames).permute(0, 2, 3, 1).cpu().numpy()


def _tmp_sibling(path: Path) -> Path:
    remove_killed_writes(path.parent, path.name)
    return temp_sibling(path, suffix=path.suffix)  # the suffix tells the encoders the format


def write_video(path: str | Path, frames: torch.Tensor, fps: float = 8.0, overwrite: bool = False) -> Path:
    """Write (F, 3, H, W) frames in [0, 1] as MP4 (H.264) or GIF, chosen by the suffix; atomically."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise MobilevidError(f"unsupported video file type '{path.suffix}' (use .mp4 or .gif)")
    check_output_file(path, overwrite, "video")
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
    writer = Mp4Stream(path, fps, array.shape[1], array.shape[2])
    try:
        writer.add(array)
    finally:
        writer.finish()


class Mp4Stream:
    """An H.264 MP4 written frame by frame through PyAV: frames leave memory as soon as they are encoded."""

    def __init__(self, path: Path, fps: float, height: int, width: int) -> None:
        from fractions import Fraction

        import av

        # H.264 with yuv420p needs even sizes; tiny videos are upscaled so players show them at a sensible size.
        self.scale = max(1, 256 // max(height, width))
        self.out_h = height * self.scale + (height * self.scale) % 2
        self.out_w = width * self.scale + (width * self.scale) % 2
        self.container = av.open(str(path), mode="w", format="mp4")
        self.stream = self.container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        self.stream.width, self.stream.height, self.stream.pix_fmt = self.out_w, self.out_h, "yuv420p"
        self.stream.options = {"crf": "17"}

    def add(self, array: np.ndarray) -> None:
        """(F, H, W, 3) uint8 frames."""
        import av

        for frame in array:
            big = np.repeat(np.repeat(frame, self.scale, axis=0), self.scale, axis=1)
            big = np.pad(big, ((0, self.out_h - big.shape[0]), (0, self.out_w - big.shape[1]), (0, 0)), mode="edge")
            self.container.mux(self.stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(big), format="rgb24")))

    def finish(self) -> None:
        try:
            self.container.mux(self.stream.encode())
        finally:
            self.container.close()


class VideoStreamWriter:
    """``with VideoStreamWriter(path, fps, h, w) as out: out.write(frames)``: a long video streamed to MP4.

    Frames (F, 3, H, W) in [0, 1] are encoded as they arrive, so memory does not grow with the
    video's length; the file appears at ``path`` only when the writer closes without an error.
    """

    def __init__(self, path: str | Path, fps: float, height: int, width: int) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() != ".mp4":
            raise MobilevidError(f"a streamed video is written as .mp4, got '{self.path.name}'")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = _tmp_sibling(self.path)
        self.frames = 0
        self._mp4 = Mp4Stream(self.tmp, fps, height, width)

    def write(self, frames: torch.Tensor) -> None:
        self._mp4.add(to_uint8(frames))
        self.frames += frames.shape[0]

    def __enter__(self) -> VideoStreamWriter:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        try:
            self._mp4.finish()
            if kind is None:
                os.replace(self.tmp, self.path)
        finally:
            self.tmp.unlink(missing_ok=True)


def write_grid(path: str | Path, videos: torch.Tensor, overwrite: bool = False) -> Path:
    """A PNG with one row per video and one column per frame; videos (B, F, 3, H, W) in [0, 1]."""
    from PIL import Image

    path = Path(path)
    check_output_file(path, overwrite, "grid")
    path.parent.mkdir(parents=True, exist_ok=True)
    b, f, _, h, w = videos.shape
    rows = [np.concatenate(list(to_uint8(v)), axis=1) for v in videos]
    grid = np.concatenate(rows, axis=0)
    tmp = _tmp_sibling(path)
    Image.fromarray(grid).save(tmp, format="PNG")
    os.replace(tmp, path)
    return path
