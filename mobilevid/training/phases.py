"""Recipes of several phases: runs that follow each other, each starting from the model of the one before.

A model is often made in steps that each are a run of their own (a base model, a lighter VAE
decoder, a fine-tune with a new conditioning, ...). A recipe whose top level is ``phases:``
names those runs in order, so one command rebuilds the whole chain::

    phases:
      - name: base
        recipe: default_tiny.yaml            # a single-run recipe, relative to this file
      - name: polish
        recipe: polish.yaml
        set: ["denoiser.steps=300"]          # --set overrides of this phase

Each phase resolves as defaults, then its ``recipe``, then its ``set`` list, then the command
line's ``--set`` (which so reaches every phase: ``--max-steps 2`` shrinks them all). From the second
phase on, the starting model (``init_from`` for training, ``student_init`` for distillation) is the
previous phase's model. Phase ``NAME`` runs in ``OUTPUT/phases/NAME`` (a run folder of its own);
``OUTPUT/model`` is a copy of the last phase's model. ``--resume`` skips the phases whose model is
written and resumes the first unfinished one from its checkpoints, which is exact (each phase
seeds itself from its config), so a killed chain continues as if it had not been stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from accelerate import PartialState

from mobilevid.artifacts import atomic_dir
from mobilevid.config import read_recipe, resolve_config, to_dict
from mobilevid.errors import MobilevidError

logger = logging.getLogger("mobilevid.train")

C = TypeVar("C")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_PHASE_KEYS = {"name", "recipe", "set"}


@dataclass
class Phase:
    name: str
    config: Any  # a resolved TrainConfig or DistillConfig


def read_phases(cls: type[C], recipe: str | Path, overrides: list[str]) -> list[Phase] | None:
    """The phases of ``recipe`` resolved against ``cls``; ``None`` when the recipe is a single run."""
    recipe = Path(recipe)
    data = read_recipe(recipe)
    if "phases" not in data:
        return None
    if set(data) != {"phases"}:
        other = sorted(set(data) - {"phases"})[0]
        raise MobilevidError(f"recipe {recipe} has phases, so it holds only 'phases' (found '{other}'): put "
                             "settings in a phase's recipe or its 'set' list")
    entries = data["phases"]
    if not isinstance(entries, list) or not entries:
        raise MobilevidError(f"recipe {recipe}: 'phases' must be a non-empty list")
    phases: list[Phase] = []
    for i, entry in enumerate(entries):
        where = f"recipe {recipe}, phase {i}"
        if not isinstance(entry, dict) or "name" not in entry:
            raise MobilevidError(f"{where}: a phase is a mapping with a 'name' (and 'recipe', 'set')")
        unknown = sorted(set(entry) - _PHASE_KEYS)
        if unknown:
            raise MobilevidError(f"{where}: unknown key '{unknown[0]}' (valid: {', '.join(sorted(_PHASE_KEYS))})")
        name = entry["name"]
        if not isinstance(name, str) or not _NAME.match(name):
            raise MobilevidError(f"{where}: name {name!r} must be letters, digits, '-' or '_' (it names a folder)")
        if name in {p.name for p in phases}:
            raise MobilevidError(f"{where}: phase name '{name}' is used twice")
        sets = entry.get("set") or []
        if not isinstance(sets, list) or not all(isinstance(s, str) for s in sets):
            raise MobilevidError(f"{where}: 'set' must be a list of KEY=VALUE strings")
        sub = None
        if entry.get("recipe") is not None:
            sub = recipe.parent / str(entry["recipe"])
            if "phases" in read_recipe(sub):
                raise MobilevidError(f"{where}: {sub} has phases of its own; a phase's recipe is a single run")
        try:
            config = resolve_config(cls, recipe=sub, overrides=[*sets, *overrides])
        except MobilevidError as err:
            raise MobilevidError(f"phase '{name}': {err}") from None
        phases.append(Phase(name, config))
    return phases


def run_phases(phases: list[Phase], output: str | Path, resume: bool, start_field: str,
               run: Callable[[Any, Path, bool], Path], record: Callable[[Path, dict[str, Any]], None]) -> Path:
    """Run ``phases`` in order into ``output``; returns ``output/model``.

    ``run(config, folder, resume)`` runs one phase and returns its model folder; ``start_field`` is the
    config field that receives the previous phase's model; ``record(output, resolved)`` writes the
    chain's ``run.json`` (on the main process). The command wraps this in its run folder (``run_setup.run_folder``), which
    checks ``output`` first and cleans up after a failure before anything resumable was written.
    """
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise MobilevidError(f"output {out} is a file, not a folder")
    if out.exists() and any(out.iterdir()) and not resume:
        raise MobilevidError(f"output folder {out} is not empty: pass --resume to continue it, or choose another")
    # Under `accelerate launch` every process runs the phases; one writes the chain's files. Joining the
    # process group here means no process sees this record before its own check above.
    with _one_process_group() as state:
        if state.is_main_process:
            record(out, {"phases": [{"name": p.name, "config": to_dict(p.config)} for p in phases]})
        previous: Path | None = None
        for i, phase in enumerate(phases):
            folder = out / "phases" / phase.name
            config = phase.config
            if previous is not None:
                config = dataclasses.replace(config, **{start_field: str(previous)})
            model = folder / "model"
            if resume and (model / "model_index.json").is_file():
                logger.info("phase %d/%d '%s' already finished: %s", i + 1, len(phases), phase.name, model)
            else:
                logger.info("phase %d/%d '%s' -> %s", i + 1, len(phases), phase.name, folder)
                _fresh_accelerator_state()
                model = Path(run(config, folder, resume and folder.exists()))
            previous = model
        assert previous is not None
        if state.is_main_process:
            with atomic_dir(out / "model", overwrite=True, marker="model_index.json", what="model folder") as tmp:
                shutil.copytree(previous, tmp, dirs_exist_ok=True)
            logger.info("wrote %s (the model of phase '%s')", out / "model", phases[-1].name)
        state.wait_for_everyone()
    return out / "model"


@contextlib.contextmanager
def _one_process_group() -> Iterator[PartialState]:
    """accelerate's process state (the process group of a multi-process launch), kept for the whole chain.

    Each run ends with ``Accelerator.end_training``, which destroys the process group, and a gloo
    group does not initialise a second time in one launch. accelerate leaves the group alone while
    ``FORK_LAUNCHED`` is set (its notebook launcher's case), so the chain sets it until its end and
    then destroys the group itself. ``cpu=`` as the runs' ``Accelerator`` has it
    (``mobilevid/training/run_setup.py``).
    """
    before = os.environ.get("FORK_LAUNCHED")
    os.environ["FORK_LAUNCHED"] = "1"
    try:
        yield PartialState(cpu=not torch.cuda.is_available())
    finally:
        if before is None:
            os.environ.pop("FORK_LAUNCHED", None)
        else:
            os.environ["FORK_LAUNCHED"] = before
        PartialState().destroy_process_group()


def _fresh_accelerator_state() -> None:
    """Let the next phase's ``Accelerator`` take its own mixed precision.

    accelerate keeps one process-wide ``AcceleratorState`` and refuses a second ``Accelerator``
    with another ``mixed_precision`` (a bf16 phase after an fp32 one); clearing it (not the process
    group, ``PartialState``) is what accelerate's own test suite does between runs.
    """
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state()
    GradientState._reset_state()
