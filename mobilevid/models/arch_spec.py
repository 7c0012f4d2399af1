"""Arch spec: which temporal candidate fills which slot of the backbone.

The architecture search writes it; the model builder reads it. JSON form::

    {"slots": {"0": ["temporal_conv"], "3": ["temporal_attention", "frame_adaptor"]}}

Slots are numbered in forward order: every layer of every down block, the mid block, then
every layer of every up block (see ``slot_table``). A slot may hold several candidates
(applied in order) or none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mobilevid.errors import MobilevidError

CANDIDATES = (
    "temporal_conv",
    "temporal_attention",
    "spatiotemporal_attention",
    "temporal_cross_attention",
    "directed_temporal_attention",
    "frame_adaptor",
)


@dataclass(frozen=True)
class Slot:
    """A place after a spatial block where temporal layers can go."""

    index: int
    name: str  # e.g. "down.1.0", "mid", "up.0.2"
    level: int
    channels: int
    height: int  # latent tokens per frame = height * width at this slot
    width: int


def slot_table(config: Any) -> list[Slot]:
    """All slots of a ``VideoUNetConfig``, in forward order."""
    slots: list[Slot] = []
    chans = config.block_out_channels
    n = len(chans)

    def add(name: str, level: int) -> None:
        h, w = config.latent_height >> level, config.latent_width >> level
        slots.append(Slot(len(slots), name, level, chans[level], h, w))

    for level in range(n):
        for layer in range(config.layers_per_block):
            add(f"down.{level}.{layer}", level)
    add("mid", n - 1)
    for up in range(n):
        for layer in range(config.layers_per_block + 1):
            add(f"up.{up}.{layer}", n - 1 - up)
    return slots


def parse_arch(arch: Any, config: Any) -> dict[int, list[str]]:
    """Validate an arch spec against a config: slot -> candidate names. Errors are one line."""
    if isinstance(arch, str | Path):
        arch = load_arch(arch)
    if not isinstance(arch, dict) or not isinstance(arch.get("slots", {}), dict):
        raise MobilevidError('arch spec must be a JSON object like {"slots": {"0": ["temporal_conv"]}}')
    unknown_keys = set(arch) - {"slots", "name", "notes", "source"}
    if unknown_keys:
        raise MobilevidError(f"arch spec: unknown key '{sorted(unknown_keys)[0]}' (valid: slots, name, notes, source)")
    table = slot_table(config)
    out: dict[int, list[str]] = {}
    for key, names in arch.get("slots", {}).items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            raise MobilevidError(f"arch spec: slot '{key}' is not an integer") from None
        if not 0 <= index < len(table):
            raise MobilevidError(f"arch spec: slot {index} out of range (this model has slots 0..{len(table) - 1})")
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list):
            raise MobilevidError(f"arch spec: slot {index} must list candidate names")
        for name in names:
            if name not in CANDIDATES:
                raise MobilevidError(
                    f"arch spec: unknown candidate '{name}' in slot {index} (valid: {', '.join(CANDIDATES)})"
                )
            slot = table[index]
            if name == "spatiotemporal_attention" and slot.height * slot.width > config.max_3d_tokens:
                raise MobilevidError(
                    f"arch spec: spatiotemporal_attention in slot {index} ({slot.name}, {slot.height}x{slot.width} "
                    f"tokens per frame) exceeds max_3d_tokens={config.max_3d_tokens}; use it at lower resolution"
                )
        if names:
            out[index] = list(names)
    return out


def load_arch(path: str | Path) -> dict[str, Any]:
    """Read an arch spec JSON file."""
    path = Path(path)
    if not path.is_file():
        raise MobilevidError(f"arch spec not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise MobilevidError(f"arch spec {path} is not valid JSON: {err}") from None
    return data


def allowed_candidates(slot: Slot, config: Any) -> list[str]:
    """Candidates that may fill ``slot`` under ``config``'s rules."""
    return [
        c
        for c in CANDIDATES
        if c != "spatiotemporal_attention" or slot.height * slot.width <= config.max_3d_tokens
    ]


def full_arch(config: Any, candidates: tuple[str, ...] = ("temporal_conv", "temporal_attention")) -> dict[str, Any]:
    """An arch spec with ``candidates`` in every slot (the default before any search)."""
    return {"slots": {str(s.index): list(candidates) for s in slot_table(config)}}
