"""Helpers shared by the search tests."""


def synthetic_table(model_cfg, space, seed=0):
    """A cost table in the real schema with made-up timings (evolution tests need budgets, not timings)."""
    import random

    from mobilevid.search.cost_table import SCHEMA, SCHEMA_VERSION, backbone_fingerprint, temporal_key

    rng = random.Random(seed)
    entries = {temporal_key(slot, cand): {"kind": "temporal", "slot": slot, "candidate": cand,
                                          "median_ms": round(rng.uniform(0.5, 5.0), 3), "weight_bytes": 1000,
                                          "activation_peak_bytes": rng.randrange(10_000, 100_000)}
               for slot, cand in space.pairs()}
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "runtime": "synthetic", "quantize": "none",
            "model": {"source": "test", "fingerprint": backbone_fingerprint(model_cfg)},
            "backbone": {"kind": "backbone", "median_ms": 10.0, "weight_bytes": 100_000,
                         "activation_peak_bytes": 50_000},
            "entries": entries}
