"""The search space: which temporal candidates may fill each slot of a denoiser.

An architecture assigns every slot a subset of the candidates allowed there (the empty subset is
"none"); a slot applies its candidates in the canonical order of ``arch_spec.CANDIDATES``, so a
subset names exactly one module sequence. The rules come from the arch spec: 3D
(spatio-temporal) attention only where a frame has at most ``max_3d_tokens`` tokens, as
SnapGen-V found it affordable only at low resolution.

Genes are slots (Once-for-All's encoding: one gene per searchable position); mutation resamples
a slot's subset, crossover takes each slot from either parent.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mobilevid.errors import MobilevidError
from mobilevid.models.arch_spec import CANDIDATES, Slot, allowed_candidates, parse_arch, slot_table

NONE = "none"

Arch = tuple[tuple[str, ...], ...]  # one candidate subset per slot, in slot order


@dataclass(frozen=True)
class SlotChoices:
    """A slot and the candidates allowed in it."""

    slot: Slot
    candidates: tuple[str, ...]


class SearchSpace:
    """Every slot of ``config`` with its allowed candidates; archs are tuples of per-slot subsets.

    ``candidates`` restricts the search to some candidates; ``max_per_slot`` caps how many one
    slot may hold (None: any number up to all allowed ones).
    """

    def __init__(self, config: Any, candidates: Sequence[str] = CANDIDATES, max_per_slot: int | None = None) -> None:
        unknown = [c for c in candidates if c not in CANDIDATES]
        if unknown:
            raise MobilevidError(f"unknown candidate '{unknown[0]}' (valid: {', '.join(CANDIDATES)})")
        if not candidates:
            raise MobilevidError("the search needs at least one candidate")
        if max_per_slot is not None and max_per_slot < 1:
            raise MobilevidError(f"max_per_slot must be at least 1, got {max_per_slot}")
        self.config = config
        self.max_per_slot = max_per_slot
        chosen = set(candidates)
        self.slots = [SlotChoices(s, tuple(c for c in allowed_candidates(s, config) if c in chosen))
                      for s in slot_table(config)]
        self._choices = [self._subsets(s.candidates) for s in self.slots]

    def _subsets(self, names: tuple[str, ...]) -> list[tuple[str, ...]]:
        top = len(names) if self.max_per_slot is None else min(self.max_per_slot, len(names))
        return [combo for k in range(top + 1) for combo in itertools.combinations(names, k)]

    def choices(self, slot: int) -> list[tuple[str, ...]]:
        """Every subset slot ``slot`` may hold, the empty one ("none") first."""
        return list(self._choices[slot])

    def pairs(self) -> list[tuple[int, str]]:
        """Every allowed (slot, candidate): what the cost table must cover."""
        return [(s.slot.index, c) for s in self.slots for c in s.candidates]

    def size(self) -> int:
        n = 1
        for options in self._choices:
            n *= len(options)
        return n

    # -- reference archs ---------------------------------------------------------------------------
    def largest(self) -> Arch:
        """Every allowed candidate in every slot (capped at ``max_per_slot``, the first ones)."""
        return tuple(max(options, key=len) for options in self._choices)

    def smallest(self) -> Arch:
        return tuple(() for _ in self.slots)

    def uniform(self, names: Sequence[str]) -> Arch:
        """``names`` (those allowed) in every slot, e.g. temporal convolution alone."""
        return self.canonical(tuple(tuple(n for n in names if n in s.candidates) for s in self.slots))

    # -- sampling and variation (Once-for-All's EvolutionFinder operators) -------------------------
    def sample(self, rng: random.Random) -> Arch:
        return tuple(rng.choice(options) for options in self._choices)

    def mutate(self, arch: Arch, rng: random.Random, prob: float) -> Arch:
        """Each slot is resampled with probability ``prob``."""
        return tuple(rng.choice(options) if rng.random() < prob else genes
                     for genes, options in zip(arch, self._choices, strict=True))

    def crossover(self, a: Arch, b: Arch, rng: random.Random) -> Arch:
        """Uniform crossover: each slot from either parent."""
        return tuple(x if rng.random() < 0.5 else y for x, y in zip(a, b, strict=True))

    # -- conversion ----------------------------------------------------------------------------------
    def canonical(self, arch: Sequence[Sequence[str]]) -> Arch:
        """Validate ``arch`` against the space; candidates put in canonical order."""
        if len(arch) != len(self.slots):
            raise MobilevidError(f"arch has {len(arch)} slots, the model has {len(self.slots)}")
        out = []
        for genes, s in zip(arch, self.slots, strict=True):
            bad = [g for g in genes if g not in s.candidates]
            if bad:
                raise MobilevidError(f"candidate '{bad[0]}' is not in the search space at slot {s.slot.index} "
                                     f"({s.slot.name}; allowed: {', '.join(s.candidates) or NONE})")
            ordered = tuple(c for c in s.candidates if c in genes)
            if self.max_per_slot is not None and len(ordered) > self.max_per_slot:
                raise MobilevidError(f"slot {s.slot.index} holds {len(ordered)} candidates, max_per_slot is "
                                     f"{self.max_per_slot}")
            out.append(ordered)
        return tuple(out)

    def to_spec(self, arch: Arch, name: str | None = None, **extra: Any) -> dict[str, Any]:
        """An arch spec (``mobilevid train --set arch=FILE`` reads it); empty slots are omitted."""
        spec: dict[str, Any] = {"slots": {str(i): list(genes) for i, genes in enumerate(arch) if genes}}
        if name:
            spec["name"] = name
        spec.update(extra)
        return spec

    def from_spec(self, spec: Any) -> Arch:
        parsed = parse_arch(spec, self.config)
        return self.canonical([parsed.get(i, []) for i in range(len(self.slots))])

    @staticmethod
    def key(arch: Arch) -> str:
        """A compact, unique string for an arch: slots separated by '|', candidates by '+', '-' for none."""
        return "|".join("+".join(genes) if genes else "-" for genes in arch)

    def from_key(self, key: str) -> Arch:
        parts = key.split("|")
        return self.canonical([[] if p == "-" else p.split("+") for p in parts])

    def describe(self) -> dict[str, Any]:
        return {"slots": [{"slot": s.slot.index, "name": s.slot.name, "channels": s.slot.channels,
                           "tokens_per_frame": s.slot.height * s.slot.width, "candidates": list(s.candidates)}
                          for s in self.slots],
                "max_per_slot": self.max_per_slot, "size": self.size()}
