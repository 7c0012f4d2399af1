"""Evolutionary search over slot assignments under a latency (and memory) budget from the cost table.

Regularised (aging) evolution, Real et al. 2019 ("Regularized Evolution for Image Classifier
Architecture Search"), with Once-for-All's operators and defaults (``ofa/nas/search_algorithm``,
``EvolutionFinder``): a population of 100; each generation the best 25 % are parents, 50 % of the
population size are mutants of random parents (each slot resampled with probability 0.1) and the
rest uniform crossovers of two parents. Aging: the children replace the *oldest* members, not the
worst, so an arch survives only while its descendants keep being good. Candidates are
rejection-sampled until the table says they fit the budget (Once-for-All), so no arch over budget is
ever evaluated; after ``max_tries`` failures a candidate is shrunk (candidates removed at random)
until it fits, because under a tight budget rejection sampling alone may never succeed.

Fitness is a proxy of quality measured with weights inherited from the supernet, the same for
every arch: the flow-matching loss on fixed held-out clips, fixed noise and fixed noise levels
(lower is better). Everything random is a pure function of (seed, generation), so a search is
deterministic for a seed, and one killed resumes from its log (``log.jsonl``) to the same result.
The fitness evaluations of one generation are split across processes (``accelerate launch``) and
gathered in order, with the same result as one process.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from mobilevid.errors import MobilevidError
from mobilevid.search.cost_table import predict
from mobilevid.search.space import Arch, SearchSpace

logger = logging.getLogger("mobilevid.search")


@dataclass
class EvolutionSettings:
    latency_budget_ms: float
    memory_budget_mb: float | None = None
    population: int = 100  # Once-for-All's EvolutionFinder defaults ...
    parent_ratio: float = 0.25
    mutation_ratio: float = 0.5
    mutation_prob: float = 0.1  # ... per-slot resampling probability
    generations: int = 30  # HAT's 30 iterations (Once-for-All runs 500 on GPUs)
    seed: int = 0
    max_tries: int = 100  # rejection-sampling tries per candidate before shrinking it to fit

    def check(self) -> None:
        if self.latency_budget_ms <= 0:
            raise MobilevidError(f"--latency-budget must be > 0 ms, got {self.latency_budget_ms}")
        if self.memory_budget_mb is not None and self.memory_budget_mb <= 0:
            raise MobilevidError(f"--memory-budget must be > 0 MB, got {self.memory_budget_mb}")
        if self.population < 2:
            raise MobilevidError(f"--population must be at least 2, got {self.population}")
        if self.generations < 0:
            raise MobilevidError(f"--generations must be 0 or more, got {self.generations}")
        if not 0 < self.parent_ratio < 1 or not 0 <= self.mutation_ratio <= 1 - self.parent_ratio:
            raise MobilevidError("need 0 < --parent-ratio < 1 and 0 <= --mutation-ratio <= 1 - parent ratio, got "
                                 f"{self.parent_ratio} and {self.mutation_ratio}")
        if not 0 <= self.mutation_prob <= 1:
            raise MobilevidError(f"--mutation-prob must be in [0, 1], got {self.mutation_prob}")


# -- the fitness proxy ---------------------------------------------------------------------------------
class HeldoutFlowLoss:
    """Flow-matching loss of a sub-architecture on fixed held-out clips, noise and levels (lower is better).

    The clips are encoded once; clip ``i`` sits at flow time ``(i + 0.5) / n`` (levels spread over
    the path), or at the given ``times`` ((clips,) or per frame (clips, F), e.g. FIFO's staircase),
    with noise from a fixed generator, so every arch sees exactly the same inputs.
    """

    def __init__(self, pipe: Any, supernet: Any | None, data: str = "shapes+digits+photos", clips: int = 8,
                 seed: int = 0, batch_size: int = 4, times: torch.Tensor | None = None) -> None:
        from mobilevid.data import make_dataset
        from mobilevid.models.rectified_flow import TIMESTEP_SCALE, add_noise, velocity_target

        if clips < 1:
            raise MobilevidError(f"--proxy-clips must be at least 1, got {clips}")
        cfg = pipe.config
        dataset = make_dataset(data, "heldout", num_frames=cfg.num_frames, size=(cfg.height, cfg.width), seed=seed,
                               length=clips)
        items = [dataset[i] for i in range(clips)]
        with torch.no_grad():
            x0 = torch.cat([pipe.vae.encode(item["video"][None]).float() for item in items])
            states, pooled, mask = pipe.text_encoder.encode([item["caption"] for item in items])
        gen = torch.Generator().manual_seed(seed)
        noise = torch.randn(x0.shape, generator=gen)
        t = (torch.arange(clips, dtype=torch.float32) + 0.5) / clips if times is None else times.float()
        self.inputs = (add_noise(x0, noise, t), t * TIMESTEP_SCALE, states, mask, pooled,
                       torch.full((clips,), float(cfg.fps)))
        self.target = velocity_target(x0, noise)
        self.supernet = supernet.eval() if supernet is not None else None
        self.batch_size = batch_size
        self.description = {"data": data, "clips": clips, "seed": seed,
                            "levels": "t_i = (i + 0.5) / clips" if times is None else "given",
                            "loss": "mean squared velocity error"}

    @torch.no_grad()
    def __call__(self, arch: Arch) -> float:
        self.supernet.active = arch
        try:
            return self.loss(self.supernet)
        finally:
            self.supernet.active = None

    @torch.no_grad()
    def loss(self, denoiser: Any) -> float:
        """The same loss for any denoiser of this model's shapes (e.g. a fine-tuned arch, not a supernet)."""
        x_t, timestep, states, mask, pooled, fps = self.inputs
        was_training = denoiser.training
        denoiser.eval()
        total = 0.0
        try:
            # Fixed chunks: an arch's value does not depend on which process evaluates it.
            for s in range(0, x_t.shape[0], self.batch_size):
                e = s + self.batch_size
                pred = denoiser(x_t[s:e], timestep[s:e], states[s:e], encoder_attention_mask=mask[s:e],
                                pooled_text=pooled[s:e], fps=fps[s:e])
                total += float(((pred.float() - self.target[s:e]) ** 2).mean()) * pred.shape[0]
        finally:
            denoiser.train(was_training)
        return round(total / x_t.shape[0], 8)


# -- processes -------------------------------------------------------------------------------------------
class Workers:
    """Which share of a list this process evaluates, and the gathering of the shares (accelerate)."""

    def __init__(self) -> None:
        from accelerate import PartialState

        self.state = PartialState(cpu=not torch.cuda.is_available())
        self.rank, self.world = self.state.process_index, self.state.num_processes

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def map(self, fn: Callable[[Arch], float], archs: Sequence[Arch], desc: str) -> list[float]:
        """``[fn(a) for a in archs]``, item ``i`` computed on process ``i % world``; every process gets all."""
        mine = list(range(self.rank, len(archs), self.world))
        results = [(i, fn(archs[i])) for i in tqdm(mine, desc=desc, disable=not self.is_main or not mine,
                                                  leave=False, dynamic_ncols=True)]
        if self.world > 1:
            from accelerate.utils import gather_object

            results = gather_object(results)
        values = dict(results)
        return [values[i] for i in range(len(archs))]

    def barrier(self) -> None:
        if self.world > 1:
            self.state.wait_for_everyone()


# -- the log ---------------------------------------------------------------------------------------------
class SearchLog:
    """``log.jsonl``: one JSON object per line (settings, every evaluated arch, each generation's population).

    Lines are appended and fsynced; a torn last line (a kill mid-write) is ignored on reading.
    """

    def __init__(self, path: Path, write: bool) -> None:
        self.path = path
        self.write = write

    def read(self) -> list[dict[str, Any]]:
        """The records; a torn last line is dropped (and cut from the file, so appends continue cleanly)."""
        if not self.path.is_file():
            return []
        records, good = [], 0
        data = self.path.read_bytes()
        for line in data.splitlines(keepends=True):
            try:
                if not line.endswith(b"\n"):
                    raise ValueError("no newline")
                records.append(json.loads(line))
            except ValueError:
                break
            good += len(line)
        if good < len(data) and self.write:
            with open(self.path, "r+b") as handle:
                handle.truncate(good)
        return records

    def append(self, record: dict[str, Any]) -> None:
        if not self.write:
            return
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


# -- the search -------------------------------------------------------------------------------------------
def generation_rng(seed: int, generation: int) -> random.Random:
    return random.Random(seed * 1_000_003 + generation * 7919 + 17)


class Evolution:
    """Regularised evolution of ``space`` under the table's budget (see the module docstring)."""

    def __init__(self, space: SearchSpace, table: dict[str, Any], settings: EvolutionSettings,
                 fitness: Callable[[Arch], float], log: SearchLog, workers: Workers,
                 context: dict[str, Any] | None = None) -> None:
        settings.check()
        self.space, self.table, self.s = space, table, settings
        self.fitness, self.log, self.workers = fitness, log, workers
        self.context = context or {}
        self.evaluated: dict[str, dict[str, Any]] = {}
        smallest = self.cost(space.smallest())
        if not self.fits(space.smallest()):
            raise MobilevidError(f"no arch fits the budget: even without temporal layers the table predicts "
                                 f"{smallest['latency_ms']:.2f} ms and {smallest['memory_mb']:.1f} MB")

    def cost(self, arch: Arch) -> dict[str, float]:
        return predict(self.table, arch)

    def fits(self, arch: Arch) -> bool:
        c = self.cost(arch)
        return c["latency_ms"] <= self.s.latency_budget_ms and (
            self.s.memory_budget_mb is None or c["memory_mb"] <= self.s.memory_budget_mb)

    def _shrink(self, arch: Arch, rng: random.Random) -> Arch:
        genes = [list(g) for g in arch]
        while not self.fits(tuple(tuple(g) for g in genes)):
            full = [i for i, g in enumerate(genes) if g]
            slot = rng.choice(full)
            genes[slot].pop(rng.randrange(len(genes[slot])))
        return tuple(tuple(g) for g in genes)

    def _within_budget(self, make: Callable[[], Arch], rng: random.Random) -> Arch:
        arch = make()
        for _ in range(self.s.max_tries):
            if self.fits(arch):
                return arch
            arch = make()
        return self._shrink(arch, rng)

    def settings_record(self) -> dict[str, Any]:
        return {"type": "settings", **asdict(self.s), **self.context}

    def _evaluate(self, archs: list[Arch], generation: int) -> None:
        """Fitness of the archs not evaluated yet (split across processes), logged in order."""
        new = list(dict.fromkeys(a for a in archs if self.space.key(a) not in self.evaluated))
        for arch in new:
            assert self.fits(arch), "an arch over budget reached evaluation"
        values = self.workers.map(self.fitness, new, desc=f"generation {generation}")
        for arch, value in zip(new, values, strict=True):
            record = {"type": "eval", "generation": generation, "arch": self.space.key(arch), **self.cost(arch),
                      "proxy": value}
            self.evaluated[record["arch"]] = record
            self.log.append(record)

    def _rank(self, population: list[Arch]) -> list[Arch]:
        def score(a: Arch) -> tuple:
            r = self.evaluated[self.space.key(a)]
            return (r["proxy"], r["latency_ms"], r["arch"])

        return sorted(population, key=score)

    def _resume(self) -> tuple[int, list[Arch] | None]:
        """(next generation, population after the last complete generation) from the log."""
        records = self.log.read()
        if not records:
            self.log.append(self.settings_record())
            return 0, None
        head = {k: v for k, v in records[0].items()}
        want = self.settings_record()
        diff = [k for k in want if head.get(k) != want[k]]
        if head.get("type") != "settings" or diff:
            key = diff[0] if diff else "type"
            raise MobilevidError(f"{self.log.path} was written by a search with other settings ({key}: "
                                 f"{head.get(key)!r} there, {want.get(key)!r} now): use another output folder")
        population, done = None, -1
        for r in records[1:]:
            if r["type"] == "eval":
                self.evaluated[r["arch"]] = r
            elif r["type"] == "generation":
                done, population = r["generation"], [self.space.from_key(k) for k in r["population"]]
        return done + 1, population

    def _initial(self, rng: random.Random) -> list[Arch]:
        return [self._within_budget(lambda: self.space.sample(rng), rng) for _ in range(self.s.population)]

    def _children(self, population: list[Arch], rng: random.Random, n_parents: int, n_mutants: int) -> list[Arch]:
        """Mutants of random parents, then crossovers of two; the parents are the best of the population."""
        parents = self._rank(population)[:n_parents]
        s = self.s
        children = [self._within_budget(lambda: self.space.mutate(rng.choice(parents), rng, s.mutation_prob), rng)
                    for _ in range(n_mutants)]
        children += [self._within_budget(
            lambda: self.space.crossover(rng.choice(parents), rng.choice(parents), rng), rng)
            for _ in range(s.population - n_parents - n_mutants)]
        return children

    def run(self) -> dict[str, Any]:
        s = self.s
        start, population = self._resume()
        self.workers.barrier()  # every process has read the log before the main one appends to it
        if start > 0:
            logger.info("resuming the search at generation %d (%d archs evaluated)", start, len(self.evaluated))
        n_parents = max(1, int(round(s.population * s.parent_ratio)))
        n_mutants = int(round(s.population * s.mutation_ratio))
        bar = tqdm(total=s.generations + 1, initial=start, desc="evolve", disable=not self.workers.is_main,
                   dynamic_ncols=True)
        for generation in range(start, s.generations + 1):
            rng = generation_rng(s.seed, generation)
            if population is None:
                population = self._initial(rng)
                self._evaluate(population, generation)
            else:
                children = self._children(population, rng, n_parents, n_mutants)
                self._evaluate(children, generation)
                population = population[len(children):] + children  # aging: the oldest leave
            best = self.best()
            self.log.append({"type": "generation", "generation": generation,
                             "population": [self.space.key(a) for a in population],
                             "best": best["arch"], "best_proxy": best["proxy"]})
            bar.set_postfix(best=f"{best['proxy']:.5f}", lat=f"{best['latency_ms']:.1f}ms")
            bar.update(1)
        bar.close()
        return self.best()

    def best(self) -> dict[str, Any]:
        """The evaluated arch with the lowest proxy (ties: lower latency, then key)."""
        return min(self.evaluated.values(), key=lambda r: (r["proxy"], r["latency_ms"], r["arch"]))


def reference_archs(space: SearchSpace, builtin: dict[str, Any] | None) -> list[tuple[str, Arch]]:
    """Archs marked on the plot: the built-in one, all candidates everywhere, temporal conv alone, none."""
    refs = []
    if builtin is not None:
        try:
            refs.append(("built-in arch", space.from_spec(builtin)))
        except MobilevidError as err:  # the built-in arch uses candidates outside this space
            logger.info("built-in arch not in the search space (%s): not marked", err)
    refs += [("all candidates", space.largest()), ("temporal conv only", space.uniform(["temporal_conv"])),
             ("no temporal layers", space.smallest())]
    return refs
