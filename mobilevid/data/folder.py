"""A folder of the user's own videos with captions (CSV or JSONL), decoded with PyAV.

Layout::

    my_videos/
        captions.csv        # or captions.jsonl / metadata.csv, or pass captions=PATH
        clip_0001.mp4       # anything FFmpeg decodes: mp4, webm, avi, mov, mkv, gif
        ...

Caption file columns: the file in ``file`` / ``video`` / ``path`` / ``videoid`` (relative to the
folder, or to the caption file's own folder) and the text in ``caption`` / ``text`` / ``name``. That also reads WebVid's own metadata (``videoid``,
``name``, optional ``page_dir``): a file value without an extension is looked up as
``{value}.mp4`` (or another video extension), also under ``page_dir/``.

Frames follow MagicVideo's sampling (Zhou et al. 2022): a random sub-segment of the clip,
sampled uniformly at a target frame rate (clips of any frame rate), then fitted to the
requested height and width whatever the clip's size and aspect ratio (``fit_clip``: a
random or centre crop after scaling to cover the frame, or a plain resize). ``length``
items cycle over the videos, each with its own segment and crop; both are a pure function
of ``(seed, index)``, so a resumed run sees the same clips.
"""

from __future__ import annotations

import csv
import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch
from torch.utils.data import Dataset

from mobilevid.data.frame_size import CROP_MODES, CropMode, fit_clip, frame_size
from mobilevid.errors import MobilevidError

logger = logging.getLogger("mobilevid.data")

VIDEO_EXTENSIONS = (".mp4", ".webm", ".avi", ".mov", ".mkv", ".gif", ".m4v")
CAPTION_FILES = ("captions.csv", "captions.jsonl", "metadata.csv")
FILE_COLUMNS = ("file", "video", "path", "videoid")
CAPTION_COLUMNS = ("caption", "text", "name")
# Errors PyAV raises on files it cannot open or decode (FFmpegError covers InvalidDataError).
_DECODE_ERRORS = (av.FFmpegError, OSError, ValueError, EOFError)
_MAX_FALLBACKS = 8


@dataclass(frozen=True)
class VideoEntry:
    """One readable video: where it is, its caption, and what the probe found."""

    path: Path
    caption: str
    duration: float  # seconds; 0.0 when the container does not say
    fps: float  # the stream's average frame rate; 0.0 when unknown


def read_caption_rows(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows and column names of a CSV or JSONL caption file."""
    try:
        if path.suffix.lower() == ".jsonl":
            rows, columns = [], []
            with path.open(encoding="utf-8") as handle:
                for line_no, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    row = json.loads(line)
                    if not isinstance(row, dict):
                        raise MobilevidError(f"{path}:{line_no}: each JSONL line must be an object, got {type(row).__name__}")
                    rows.append(row)
                    columns += [k for k in row if k not in columns]
            return rows, columns
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            # Strip header cells so that "file, caption" finds " caption" too.
            rows = [{k.strip(): v for k, v in row.items() if k is not None} for row in reader]
            return rows, [c.strip() for c in reader.fieldnames or []]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as err:
        raise MobilevidError(f"cannot read caption file {path}: {err}") from err


def find_caption_file(root: Path, captions: str | Path | None) -> Path:
    """The explicit caption file (absolute or relative to ``root``) or the first of ``CAPTION_FILES``."""
    if captions is not None:
        path = Path(captions)
        path = path if path.is_absolute() or path.exists() else root / path
        if not path.is_file():
            raise MobilevidError(f"caption file {captions} not found (also looked in {root})")
        return path
    for name in CAPTION_FILES:
        if (root / name).is_file():
            return root / name
    raise MobilevidError(f"no caption file in {root}: add one of {', '.join(CAPTION_FILES)} or pass captions=PATH")


def _pick_column(columns: list[str], wanted: tuple[str, ...], role: str, path: Path, exclude: str | None = None) -> str:
    lowered = {c.strip().lower(): c for c in columns if c != exclude}
    for name in wanted:
        if name in lowered:
            return lowered[name]
    raise MobilevidError(
        f"caption file {path} has no {role} column (expected one of {', '.join(wanted)}; "
        f"found: {', '.join(columns) or 'none'})"
    )


def _resolve(bases: list[Path], value: str, row: dict[str, Any]) -> Path | None:
    """The video file a caption row points at, or None if it is not there."""
    dirs = list(bases)
    if row.get("page_dir"):
        dirs += [base / str(row["page_dir"]) for base in bases]  # WebVid downloads sorted into page folders
    for folder in dirs:
        candidate = folder / value
        if candidate.is_file():
            return candidate
        for ext in VIDEO_EXTENSIONS:
            candidate = folder / f"{value}{ext}"
            if candidate.is_file():
                return candidate
    return None


def probe_video(path: Path) -> tuple[float, float] | None:
    """(duration s, fps) from the container's metadata, or None if PyAV cannot open a video stream."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate else 0.0
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            else:
                duration = stream.frames / fps if stream.frames and fps else 0.0
            return duration, fps
    except _DECODE_ERRORS:
        return None


@functools.lru_cache(maxsize=16)
def scan_folder(root: Path, caption_file: Path, stamp: tuple[int, int]
                ) -> tuple[tuple[VideoEntry, ...], tuple[str, ...], int, int, int]:
    """(readable entries, skipped names, missing, unreadable, rows) of a caption file's videos.

    Cached per caption file version (``stamp``: its mtime and size): a training run builds its
    clips once per stage, and probing every file of a large folder each time would cost minutes.
    """
    rows, columns = read_caption_rows(caption_file)
    file_column = _pick_column(columns, FILE_COLUMNS, "file", caption_file)
    caption_column = _pick_column(columns, CAPTION_COLUMNS, "caption", caption_file, exclude=file_column)
    # Files resolve against the video folder first, then against the caption file's folder.
    bases = list(dict.fromkeys([root, caption_file.parent]))
    entries: list[VideoEntry] = []
    skipped: list[str] = []
    missing = unreadable = 0
    for row in rows:
        value = str(row.get(file_column) or "").strip()
        path = _resolve(bases, value, row) if value else None
        if path is None:
            missing += 1
            skipped.append(value or "<empty>")
            continue
        info = probe_video(path)
        if info is None:
            unreadable += 1
            skipped.append(str(path.relative_to(root)) if path.is_relative_to(root) else str(path))
            continue
        entries.append(VideoEntry(path, str(row.get(caption_column) or "").strip(), *info))
    return tuple(entries), tuple(skipped), missing, unreadable, len(rows)


class FolderVideoDataset(Dataset):
    """Videos and captions from a folder (see module docstring); items like the built-in sets.

    Items: ``{"video": (num_frames, 3, height, width) in [-1, 1], "caption": str, "labels": {"file": str}}``;
    ``size`` is one side (square) or ``(height, width)``. ``length`` (default: one item per video)
    sets the epoch: item ``i`` is video ``i % len(entries)``, with a segment and crop drawn for ``i``.
    Files the probe cannot read, or that the caption file names but are absent, are skipped:
    ``num_skipped`` counts them and ``skipped`` lists them; one warning summarises them.
    """

    def __init__(self, root: str | Path, captions: str | Path | None = None, num_frames: int = 16,
                 size: int | tuple[int, int] = 64, fps: float = 8.0, seed: int = 0, length: int | None = None,
                 crop: CropMode = "center", strides: Sequence[int] | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise MobilevidError(f"video folder {root} does not exist or is not a directory")
        self.height, self.width = frame_size(size)
        if num_frames < 1 or not fps > 0:
            raise MobilevidError(f"need num_frames >= 1 and fps > 0, got {num_frames}, {fps}")
        if crop not in CROP_MODES:
            raise MobilevidError(f"unknown crop mode {crop!r}: expected one of {', '.join(CROP_MODES)}")
        if length is not None and length < 1:
            raise MobilevidError(f"length must be >= 1, got {length}")
        self.num_frames, self.fps, self.seed, self.crop = int(num_frames), float(fps), int(seed), crop
        # NUWA-XL's levels (long_clips.py): frames ``stride`` apart at ``fps``, a stride the video is long enough for.
        self.strides = tuple(int(x) for x in strides) if strides else (1,)
        if min(self.strides) < 1:
            raise MobilevidError(f"strides must be positive integers, got {list(self.strides)}")
        self.caption_file = find_caption_file(self.root, captions)
        stat = self.caption_file.stat()
        entries, skipped, missing, unreadable, tried = scan_folder(self.root, self.caption_file,
                                                                   (stat.st_mtime_ns, stat.st_size))
        self.entries: list[VideoEntry] = list(entries)
        self.skipped: list[str] = list(skipped)
        if self.skipped:
            logger.warning("skipped %d of %d videos listed in %s (%d missing, %d unreadable by PyAV; first: %s)",
                           len(self.skipped), tried, self.caption_file, missing, unreadable, self.skipped[0])
        if not self.entries:
            raise MobilevidError(f"no readable video in {self.root} ({tried} files tried)")
        self.length = int(length) if length is not None else len(self.entries)

    @property
    def num_skipped(self) -> int:
        return len(self.skipped)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for a folder data set of length {self.length}")
        # A file that probed fine can still fail to decode; fall back to the next one, deterministically.
        for attempt in range(_MAX_FALLBACKS):
            entry = self.entries[(index + attempt) % len(self.entries)]
            rng = np.random.default_rng([self.seed, int(index), attempt])
            stride = self._stride(entry, rng)
            try:
                frames = self._decode(entry, rng, stride)
            except _DECODE_ERRORS as err:
                logger.warning("could not decode %s (%s); using the next video", entry.path, err)
                continue
            if frames is not None:
                rel = entry.path.relative_to(self.root) if entry.path.is_relative_to(self.root) else entry.path
                item = {"video": self._to_tensor(frames, rng), "caption": entry.caption, "labels": {"file": str(rel)}}
                return item if self.strides == (1,) else {**item, "stride": stride}
            logger.warning("no frames decoded from %s; using the next video", entry.path)
        raise MobilevidError(f"could not decode {_MAX_FALLBACKS} videos in a row from {self.root}")

    def _stride(self, entry: VideoEntry, rng: np.random.Generator) -> int:
        """One of ``strides`` whose span fits the video (1 when none does); stride 1 draws nothing."""
        if self.strides == (1,):
            return 1
        fits = [s for s in self.strides if (self.num_frames - 1) * s / self.fps <= entry.duration] or [1]
        return fits[int(rng.integers(len(fits)))]

    def _decode(self, entry: VideoEntry, rng: np.random.Generator, stride: int = 1) -> np.ndarray | None:
        """(num_frames, H, W, 3) uint8 frames ``stride`` apart at ``self.fps`` from a random sub-segment; None if empty."""
        step = stride / self.fps
        span = (self.num_frames - 1) * step
        start = rng.uniform(0.0, max(0.0, entry.duration - span - (1.0 / entry.fps if entry.fps else 0.0)))
        with av.open(str(entry.path)) as container:
            stream = container.streams.video[0]
            offset = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
            targets = offset + start + np.arange(self.num_frames) * step
            if start > 0 and stream.time_base:
                # Lands on the keyframe at or before the start; earlier frames are read and dropped.
                container.seek(int((offset + start) / stream.time_base), stream=stream, backward=True)
            picked: list[np.ndarray] = []
            previous, previous_array = None, None
            for count, frame in enumerate(container.decode(stream)):
                time = frame.time if frame.time is not None else offset + count / (entry.fps or self.fps)
                # Each target takes the last frame shown at or before it (nearest-earlier sampling).
                while len(picked) < self.num_frames and time > targets[len(picked)] + 1e-6:
                    if previous_array is None:
                        previous_array = (previous if previous is not None else frame).to_ndarray(format="rgb24")
                    picked.append(previous_array)
                if len(picked) == self.num_frames:
                    break
                previous, previous_array = frame, None
            if len(picked) < self.num_frames:
                if previous is None:
                    return None
                # The clip ended before the segment did: repeat its last frame.
                if previous_array is None:
                    previous_array = previous.to_ndarray(format="rgb24")
                picked += [previous_array] * (self.num_frames - len(picked))
        return np.stack(picked)

    def _to_tensor(self, frames: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        """uint8 (F, h, w, 3) -> (F, 3, height, width) in [-1, 1], fitted by ``self.crop``."""
        clip = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0
        clip = fit_clip(clip, self.height, self.width, self.crop, rng)
        return (clip.clamp(0.0, 1.0) * 2.0 - 1.0).contiguous()
