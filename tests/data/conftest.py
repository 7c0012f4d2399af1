"""Fixtures for the data tests: tiny real video files written with PyAV."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest


def _write_video(path: Path, frames: np.ndarray, fps: int = 24) -> Path:
    """Encode (F, H, W, 3) uint8 frames as H.264 (yuv420p) into ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        for array in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _ramp_frames(num_frames: int = 12, size: int = 32) -> np.ndarray:
    """Flat grey frames whose brightness encodes the frame number: 10 + 10 k."""
    levels = 10 + 10 * np.arange(num_frames)
    return np.broadcast_to(levels[:, None, None, None], (num_frames, size, size, 3)).astype(np.uint8).copy()


@pytest.fixture
def ramp_frames() -> Callable[..., np.ndarray]:
    return _ramp_frames


@pytest.fixture
def write_video() -> Callable[..., Path]:
    return _write_video


@pytest.fixture
def video_folder(tmp_path: Path) -> Path:
    """Three readable 12-frame 32x32 MP4s, one corrupt .mp4, and captions.csv naming all four."""
    root = tmp_path / "videos"
    rng = np.random.default_rng(0)
    for i in range(3):
        frames = (rng.random((12, 32, 32, 3)) * 255).astype(np.uint8)
        _write_video(root / f"clip{i}.mp4", frames)
    (root / "broken.mp4").write_bytes(rng.bytes(2048))
    (root / "captions.csv").write_text(
        "file,caption\nclip0.mp4,a red car\nclip1.mp4,a blue boat\nclip2.mp4,a green tree\nbroken.mp4,nothing\n"
    )
    return root
