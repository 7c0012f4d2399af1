"""The Pareto front: no point on it is dominated, every point off it is."""

import random

from mobilevid.search.pareto import dominates, pareto_front, plot_pareto


def test_front_has_no_dominated_point_and_covers_the_rest(tmp_path):
    rng = random.Random(0)
    points = [{"latency_ms": rng.uniform(1, 10), "proxy": rng.uniform(0, 1)} for _ in range(300)]
    points += [dict(points[0]), {"latency_ms": points[1]["latency_ms"], "proxy": points[1]["proxy"] + 0.5}]
    front = pareto_front(points)
    key = ("latency_ms", "proxy")
    vals = [tuple(p[k] for k in key) for p in front]
    assert len(set(vals)) == len(vals)
    for f in front:
        assert not any(dominates(tuple(q[k] for k in key), tuple(f[k] for k in key)) for q in points)
    for p in points:
        if tuple(p[k] for k in key) not in vals:
            assert any(dominates(v, tuple(p[k] for k in key)) for v in vals)
    assert [v[0] for v in vals] == sorted(v[0] for v in vals)
    assert [v[1] for v in vals] == sorted((v[1] for v in vals), reverse=True)
    png = plot_pareto(tmp_path / "p.png", points, front, 5.0, [{"name": "ref", **points[2]}], front[0])
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_dominance():
    assert dominates((1, 1), (1, 2)) and not dominates((1, 2), (1, 2)) and not dominates((0, 3), (1, 2))
