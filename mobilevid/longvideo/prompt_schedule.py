"""Prompts that change along a video: each prompt holds from its frame until the next one starts.

A schedule comes from repeated ``"FRAME: text"`` entries (``--prompt "64: a blue square"``) or a
file: JSON (``{"0": "a red circle", "64": "a blue square"}`` or a list of
``{"frame": 0, "prompt": "..."}``) or CSV (``frame,prompt`` rows, an optional header). Frame 0
takes the base prompt unless an entry names it. Multi-prompt video is what FIFO-Diffusion's
users asked for (jjihwan/FIFO-Diffusion_public issues #22, #30; its ``multiprompts`` script
switches the prompt of the whole queue at a frame); here every frame carries its own prompt, so
a queue slot, a keyframe or a local frame gets the prompt of the frame it becomes.
"""

from __future__ import annotations

import bisect
import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mobilevid.errors import MobilevidError


@dataclass(frozen=True)
class PromptSchedule:
    """Start frames (ascending, the first 0) and their prompts."""

    starts: tuple[int, ...]
    prompts: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.starts or self.starts[0] != 0 or len(self.starts) != len(self.prompts):
            raise MobilevidError("a prompt schedule needs a prompt for frame 0")
        if any(b <= a for a, b in zip(self.starts, self.starts[1:], strict=False)):
            raise MobilevidError(f"prompt schedule frames must increase, got {list(self.starts)}")
        for p in self.prompts:
            if not p.strip():
                raise MobilevidError("empty prompt in the prompt schedule: give a text description")

    @classmethod
    def constant(cls, prompt: str) -> PromptSchedule:
        return cls((0,), (prompt,))

    @classmethod
    def from_entries(cls, base: str | None, entries: dict[int, str]) -> PromptSchedule:
        """``base`` holds from frame 0 unless ``entries`` names frame 0; entries are frame -> prompt."""
        table = dict(entries)
        if 0 not in table:
            if base is None:
                raise MobilevidError("the prompt schedule has no prompt for frame 0 and no base prompt was given")
            table[0] = base
        for frame in table:
            if frame < 0:
                raise MobilevidError(f"prompt schedule frame must be >= 0, got {frame}")
        starts = tuple(sorted(table))
        return cls(starts, tuple(table[s] for s in starts))

    def at(self, frame: int) -> str:
        """The prompt of ``frame`` (frames before 0 take frame 0's)."""
        return self.prompts[max(0, bisect.bisect_right(self.starts, frame) - 1)]

    def for_frames(self, frames: Sequence[int]) -> list[str]:
        return [self.at(int(f)) for f in frames]

    def segments(self, num_frames: int) -> list[tuple[int, int, str]]:
        """(start, end exclusive, prompt) of every segment that falls inside ``num_frames`` frames."""
        out = []
        for i, (start, prompt) in enumerate(zip(self.starts, self.prompts, strict=True)):
            if start >= num_frames:
                break
            end = self.starts[i + 1] if i + 1 < len(self.starts) else num_frames
            out.append((start, min(end, num_frames), prompt))
        return out

    def check_fits(self, num_frames: int) -> None:
        """An entry past the end of the video is a mistake worth stopping for (a typo in a frame number)."""
        late = [s for s in self.starts if s >= num_frames]
        if late:
            raise MobilevidError(f"prompt schedule starts at frame {late[0]}, past the video's {num_frames} frames")


def parse_entry(text: str) -> tuple[int, str]:
    """``"64: a blue square"`` -> (64, "a blue square")."""
    frame, sep, prompt = text.partition(":")
    try:
        number = int(frame.strip())
    except ValueError:
        number = None
    if not sep or number is None or not prompt.strip():
        raise MobilevidError(f"--prompt must look like 'FRAME: text' (e.g. '64: a blue square'), got {text!r}")
    return number, prompt.strip()


def read_schedule_file(path: str | Path) -> dict[int, str]:
    """Frame -> prompt from a .json or .csv file."""
    path = Path(path)
    if not path.is_file():
        raise MobilevidError(f"prompt schedule file not found: {path}")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise MobilevidError(f"prompt schedule {path} is not UTF-8 text: {err}") from None
    entries: dict[int, str] = {}
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise MobilevidError(f"{path} is not valid JSON: {err}") from None
        if isinstance(data, dict):
            pairs = list(data.items())
        elif isinstance(data, list) and all(isinstance(row, dict) for row in data):
            pairs = [(row.get("frame"), row.get("prompt")) for row in data]
        else:
            raise MobilevidError(f"{path}: expected an object frame -> prompt or a list of {{frame, prompt}}")
        for frame, prompt in pairs:
            entries[_frame_number(frame, path)] = _prompt_text(prompt, path)
    elif suffix == ".csv":
        rows = [r for r in csv.reader(text.splitlines()) if r and any(c.strip() for c in r)]
        if rows and rows[0][0].strip().lower() == "frame":
            rows = rows[1:]
        for row in rows:
            if len(row) < 2:
                raise MobilevidError(f"{path}: each row needs frame,prompt, got {row}")
            entries[_frame_number(row[0], path)] = _prompt_text(",".join(row[1:]), path)
    else:
        raise MobilevidError(f"prompt schedule must be a .json or .csv file, got '{path.name}'")
    if not entries:
        raise MobilevidError(f"{path} holds no prompts")
    return entries


def build_schedule(base: str | None, entries: Sequence[str] = (), file: str | Path | None = None) -> PromptSchedule:
    """The CLI's schedule: a file's entries, then ``--prompt "FRAME: text"`` entries (which win on a tie)."""
    table: dict[int, str] = read_schedule_file(file) if file is not None else {}
    for e in entries:
        frame, prompt = parse_entry(e)
        table[frame] = prompt
    return PromptSchedule.from_entries(base, table)


def _frame_number(value: object, path: Path) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise MobilevidError(f"{path}: frame must be an integer, got {value!r}") from None
    if number < 0:
        raise MobilevidError(f"{path}: frame must be >= 0, got {number}")
    return number


def _prompt_text(value: object, path: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MobilevidError(f"{path}: every entry needs a non-empty prompt, got {value!r}")
    return value.strip()
