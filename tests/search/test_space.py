"""The search space: allowed candidates per slot, variation operators, arch specs the trainer reads."""

import random

import pytest

from mobilevid.errors import MobilevidError
from mobilevid.models.arch_spec import CANDIDATES, parse_arch, slot_table
from mobilevid.models.presets import get_preset
from mobilevid.search.space import SearchSpace


@pytest.fixture()
def config():
    return get_preset("tiny").denoiser


def test_slots_allow_3d_attention_only_at_low_resolution(config):
    space = SearchSpace(config)
    assert len(space.slots) == len(slot_table(config))
    for s in space.slots:
        tokens = s.slot.height * s.slot.width
        assert ("spatiotemporal_attention" in s.candidates) == (tokens <= config.max_3d_tokens)
        assert set(s.candidates) - {"spatiotemporal_attention"} == set(CANDIDATES) - {"spatiotemporal_attention"}
        assert space.choices(s.slot.index)[0] == ()  # "none" is a choice everywhere


def test_sampled_mutated_and_crossed_archs_stay_in_the_space(config):
    space = SearchSpace(config, max_per_slot=2)
    rng = random.Random(0)
    for _ in range(50):
        a, b = space.sample(rng), space.sample(rng)
        for arch in (a, space.mutate(a, rng, 0.5), space.crossover(a, b, rng)):
            assert space.canonical(arch) == arch and all(len(g) <= 2 for g in arch)
            assert space.from_key(space.key(arch)) == arch
    child = space.crossover(a, b, random.Random(1))
    assert all(c in (x, y) for c, x, y in zip(child, a, b, strict=True))
    assert space.mutate(a, rng, 0.0) == a


def test_arch_specs_round_trip_through_the_model_builder(config):
    space = SearchSpace(config)
    arch = space.sample(random.Random(3))
    spec = space.to_spec(arch, name="x")
    parsed = parse_arch(spec, config)
    assert space.from_spec(spec) == arch
    assert all(parsed.get(i, []) == list(g) for i, g in enumerate(arch))
    assert space.largest() == tuple(s.candidates for s in space.slots)
    assert space.smallest() == tuple(() for _ in space.slots)


def test_bad_candidates_are_one_line_errors(config):
    with pytest.raises(MobilevidError, match="unknown candidate 'conv4d'"):
        SearchSpace(config, ["conv4d"])
    space = SearchSpace(config, ["temporal_conv"])
    with pytest.raises(MobilevidError, match="not in the search space at slot 0"):
        space.canonical([["temporal_attention"]] + [[]] * (len(space.slots) - 1))
