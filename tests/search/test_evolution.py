"""Evolution: budgets respected, deterministic for a seed, resumes from its log."""

import json

import pytest
from search_helpers import synthetic_table

from mobilevid.errors import MobilevidError
from mobilevid.models.presets import get_preset
from mobilevid.search.cost_table import predict
from mobilevid.search.evolution import Evolution, EvolutionSettings, SearchLog, Workers
from mobilevid.search.space import SearchSpace


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def setup():
    cfg = get_preset("tiny")
    space = SearchSpace(cfg.denoiser)
    return space, synthetic_table(cfg, space)


def quality(space, table, budget, calls=None, kill_after=None):
    """A made-up proxy with structure (some candidates help, more layers help less); checks every arch fits."""
    gain = {"temporal_conv": 0.3, "temporal_attention": 0.5, "spatiotemporal_attention": 0.7,
            "temporal_cross_attention": 0.2, "directed_temporal_attention": 0.4, "frame_adaptor": 0.1}

    def fitness(arch):
        assert predict(table, arch)["latency_ms"] <= budget, "an arch over budget was evaluated"
        if calls is not None:
            calls.append(arch)
            if kill_after is not None and len(calls) > kill_after:
                raise Killed
        score = sum(gain[c] / (1 + 0.3 * j) * (1 + 0.05 * i) for i, g in enumerate(arch) for j, c in enumerate(g))
        return round(10.0 - score, 8)

    return fitness


def search(space, table, log_path, seed=0, budget=40.0, fitness=None, **kw):
    settings = EvolutionSettings(latency_budget_ms=budget, population=20, generations=6, seed=seed, **kw)
    evo = Evolution(space, table, settings, fitness or quality(space, table, budget), SearchLog(log_path, True),
                    Workers())
    return evo, evo.run()


def test_no_arch_over_budget_is_evaluated_or_returned(setup, tmp_path):
    space, table = setup
    for budget, memory in ((20.0, None), (40.0, 0.2)):
        calls = []
        evo, best = search(space, table, tmp_path / f"{budget}.jsonl", budget=budget, memory_budget_mb=memory,
                           fitness=quality(space, table, budget, calls))
        assert calls and len(calls) == len({space.key(a) for a in calls})  # each arch evaluated once
        for arch in calls:
            cost = predict(table, arch)
            assert cost["latency_ms"] <= budget and (memory is None or cost["memory_mb"] <= memory)
        assert best["latency_ms"] <= budget and best == min(evo.evaluated.values(), key=lambda r: r["proxy"])
    largest = predict(table, space.largest())["latency_ms"]
    assert largest > 40.0  # the budgets bind


def test_same_seed_same_search_other_seed_another(setup, tmp_path):
    space, table = setup
    _, a = search(space, table, tmp_path / "a.jsonl", seed=3)
    _, b = search(space, table, tmp_path / "b.jsonl", seed=3)
    _, c = search(space, table, tmp_path / "c.jsonl", seed=4)
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text() and a == b
    assert (tmp_path / "a.jsonl").read_text() != (tmp_path / "c.jsonl").read_text()


def test_killed_search_resumes_from_its_log_to_the_same_result(setup, tmp_path):
    space, table = setup
    _, full = search(space, table, tmp_path / "full.jsonl")
    log = tmp_path / "killed.jsonl"
    calls = []
    with pytest.raises(Killed):
        search(space, table, log, fitness=quality(space, table, 40.0, calls, kill_after=37))  # mid-generation
    before = sum('"eval"' in line for line in log.read_text().splitlines())
    assert 0 < before <= 37
    with open(log, "a") as handle:
        handle.write('{"type": "eval", "gener')  # torn by the kill
    calls = []
    _, resumed = search(space, table, log, fitness=quality(space, table, 40.0, calls))
    assert resumed == full
    assert log.read_text() == (tmp_path / "full.jsonl").read_text()
    logged = [json.loads(line)["arch"] for line in log.read_text().splitlines() if '"eval"' in line]
    assert len(calls) == len(logged) - before  # what was logged before the kill is not evaluated again


def test_resume_with_other_settings_and_impossible_budgets_are_errors(setup, tmp_path):
    space, table = setup
    search(space, table, tmp_path / "a.jsonl")
    with pytest.raises(MobilevidError, match="other settings"):
        search(space, table, tmp_path / "a.jsonl", seed=9)
    with pytest.raises(MobilevidError, match="no arch fits the budget"):
        search(space, table, tmp_path / "b.jsonl", budget=5.0)
    with pytest.raises(MobilevidError, match="--mutation-prob"):
        search(space, table, tmp_path / "c.jsonl", mutation_prob=2.0)
