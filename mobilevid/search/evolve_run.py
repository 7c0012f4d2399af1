"""``mobilevid search evolve``: the search job around ``evolution.Evolution``.

Output folder::

    log.jsonl      settings, every evaluated arch (latency_ms, memory_mb by the table; proxy), each
                   generation's population, the reference archs; a killed search resumes from it
    arch.json      the best arch within budget (``mobilevid train --set arch=arch.json`` reads it)
    model/         a model folder with that arch and the weights it inherits from the supernet
                   (``mobilevid train --set init_from=OUT/model --set arch=OUT/arch.json`` fine-tunes it)
    pareto.json    the front, the references, the chosen arch and the budget
    pareto.png     the plot (pareto.py)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from mobilevid.artifacts import read_json, write_json
from mobilevid.errors import MobilevidError
from mobilevid.search.cost_table import arch_keys, check_table_fits, load_table, predict
from mobilevid.search.evolution import (
    Evolution,
    EvolutionSettings,
    HeldoutFlowLoss,
    SearchLog,
    Workers,
    reference_archs,
)
from mobilevid.search.pareto import pareto_front, plot_pareto

logger = logging.getLogger("mobilevid.search")


def _builtin_arch(supernet_root: Path) -> dict[str, Any] | None:
    """The teacher's own arch (what the toolkit ships), when the teacher folder is still here."""
    from mobilevid.pipeline import resolve_model_dir

    try:
        teacher = read_json(supernet_root / "space.json")["teacher"]
        return read_json(resolve_model_dir(teacher) / "model_index.json")["denoiser"]["arch"]
    except (MobilevidError, KeyError):
        return None


def run_evolve(supernet: str | Path, lut: str | Path, settings: EvolutionSettings, output: str | Path,
               resume: bool = False, proxy_data: str = "shapes+digits+photos", proxy_clips: int = 8,
               proxy_batch: int = 4) -> dict[str, Any]:
    """Run (or resume) the search; returns the summary the CLI prints."""
    from mobilevid.search.supernet import extract_subnet, load_supernet

    settings.check()
    out = Path(output)
    table = load_table(lut)
    workers = Workers()
    if out.exists() and any(out.iterdir()) and not resume:
        raise MobilevidError(f"output folder {out} is not empty: pass --resume to continue its search, or choose "
                             "another")
    pipe, net, space = load_supernet(supernet)
    check_table_fits(table, pipe.config, f"the supernet in {supernet}")
    missing = [k for k in arch_keys(space.largest()) if k not in table["entries"]]
    if missing:
        raise MobilevidError(f"{lut} has no entry {missing[0]}: measure the table for this model's search space")
    predict(table, space.smallest())  # a table without timings fails here, before any work
    if workers.is_main:
        out.mkdir(parents=True, exist_ok=True)
    workers.barrier()
    fitness = HeldoutFlowLoss(pipe, net, proxy_data, proxy_clips, settings.seed, proxy_batch)
    log = SearchLog(out / "log.jsonl", write=workers.is_main)
    context = {"table": {"runtime": table["runtime"], "quantize": table.get("quantize"),
                         "fingerprint": table["model"]["fingerprint"], "created_at": table.get("created_at")},
               "proxy": fitness.description, "space": {"size": space.size(), "max_per_slot": space.max_per_slot}}
    evo = Evolution(space, table, settings, fitness, log, workers, context)
    evo.run()

    # Reference archs: marked on the plot, evaluated with the same proxy, never returned.
    root = Path(supernet) if (Path(supernet) / "space.json").is_file() else Path(supernet).parent
    refs = reference_archs(space, _builtin_arch(root))
    done = {r["name"]: r for r in log.read() if r.get("type") == "reference"}
    todo = [(name, arch) for name, arch in refs if name not in done]
    values = workers.map(fitness, [arch for _, arch in todo], desc="reference archs")
    for (name, arch), value in zip(todo, values, strict=True):
        record = {"type": "reference", "name": name, "arch": space.key(arch), **predict(table, arch), "proxy": value,
                  "within_budget": evo.fits(arch)}
        done[name] = record
        log.append(record)
    references = [done[name] for name, _ in refs]

    # References within budget are archs of the space measured with the same proxy: they compete too.
    evaluated = list(evo.evaluated.values())
    pool = evaluated + [r for r in references if r["within_budget"] and r["arch"] not in evo.evaluated]
    front = pareto_front(pool)
    best = min(pool, key=lambda r: (r["proxy"], r["latency_ms"], r["arch"]))
    arch = space.from_key(best["arch"])
    summary = {"arch": best["arch"], "found_by": best.get("name", "evolution"), "latency_ms": best["latency_ms"], "memory_mb": best["memory_mb"],
               "proxy": best["proxy"], "evaluated": len(evaluated), "front": len(front),
               "latency_budget_ms": settings.latency_budget_ms, "memory_budget_mb": settings.memory_budget_mb,
               "runtime": table["runtime"], "references": references}
    if workers.is_main:
        spec = space.to_spec(arch, name="searched", source="mobilevid search evolve",
                             notes=f"table ({table['runtime']}): {best['latency_ms']:.2f} ms, "
                                   f"{best['memory_mb']:.1f} MB; proxy {best['proxy']:.6f}; budget "
                                   f"{settings.latency_budget_ms:g} ms")
        write_json(out / "arch.json", spec)
        write_json(out / "pareto.json", {"objectives": ["latency_ms", "proxy"], "front": front,
                                         "references": references, "chosen": best,
                                         "latency_budget_ms": settings.latency_budget_ms,
                                         "memory_budget_mb": settings.memory_budget_mb})
        plot_pareto(out / "pareto.png", pool, front, settings.latency_budget_ms, references, best,
                    title=f"temporal-layer search ({table['runtime']}, seed {settings.seed})")
        pipe.denoiser = extract_subnet(net, arch, space).eval()
        pipe.save_pretrained(out / "model", overwrite=resume)  # a resumed search rewrites the same model
        write_json(out / "summary.json", summary)
    workers.barrier()
    return summary
