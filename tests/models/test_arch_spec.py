import pytest

from mobilevid.errors import MobilevidError
from mobilevid.models.arch_spec import CANDIDATES, allowed_candidates, parse_arch, slot_table


def test_slots_cover_down_mid_up(tiny_config):
    names = [s.name for s in slot_table(tiny_config)]
    assert names[:3] == ["down.0.0", "down.1.0", "down.2.0"] and names[3] == "mid" and names[-1] == "up.2.1"


def test_unknown_candidate(tiny_config):
    with pytest.raises(MobilevidError, match="unknown candidate 'conv9'"):
        parse_arch({"slots": {"0": ["conv9"]}}, tiny_config)


def test_slot_out_of_range(tiny_config):
    n = len(slot_table(tiny_config))
    with pytest.raises(MobilevidError, match=f"slot {n} out of range"):
        parse_arch({"slots": {str(n): ["temporal_conv"]}}, tiny_config)


def test_3d_attention_only_at_low_resolution(tiny_config):
    with pytest.raises(MobilevidError, match="spatiotemporal_attention in slot 0 .* exceeds max_3d_tokens"):
        parse_arch({"slots": {"0": ["spatiotemporal_attention"]}}, tiny_config)
    assert parse_arch({"slots": {"1": ["spatiotemporal_attention"]}}, tiny_config) == {1: ["spatiotemporal_attention"]}
    slots = slot_table(tiny_config)
    assert "spatiotemporal_attention" not in allowed_candidates(slots[0], tiny_config)
    assert set(allowed_candidates(slots[1], tiny_config)) == set(CANDIDATES)
