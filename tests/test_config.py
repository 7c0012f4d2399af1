from dataclasses import dataclass, field
from typing import Literal

import pytest

from mobilevid.config import apply_overrides, from_dict, resolve_config, to_dict
from mobilevid.errors import MobilevidError


@dataclass
class Optim:
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)


@dataclass
class Run:
    steps: int = 10
    name: str = "run"
    ema: bool = True
    precision: Literal["no", "fp16", "bf16"] = "bf16"
    optim: Optim = field(default_factory=Optim)


def test_nested_override_sets_typed_value():
    cfg = resolve_config(Run, overrides=["optim.lr=3e-3", "steps=20", "ema=false", "optim.betas=[0.5, 0.9]"])
    assert cfg.optim.lr == pytest.approx(3e-3)
    assert cfg.steps == 20 and cfg.ema is False
    assert cfg.optim.betas == (0.5, 0.9)


def test_unknown_key_is_named():
    with pytest.raises(MobilevidError, match="unknown config key 'optim.lrr'"):
        resolve_config(Run, overrides=["optim.lrr=1"])
    with pytest.raises(MobilevidError, match="unknown config key 'nope'"):
        resolve_config(Run, overrides=["nope.x=1"])


def test_wrong_type_names_key_and_expected_type():
    with pytest.raises(MobilevidError, match=r"config key 'steps': expected int, got 'ten'"):
        resolve_config(Run, overrides=["steps=ten"])
    with pytest.raises(MobilevidError, match=r"config key 'optim.lr': expected float"):
        from_dict(Run, {"optim": {"lr": "fast"}})
    with pytest.raises(MobilevidError, match=r"'ema': expected bool"):
        from_dict(Run, {"ema": 1})


def test_recipe_then_overrides(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("steps: 5\noptim:\n  lr: 0.5\n")
    cfg = resolve_config(Run, recipe=recipe, overrides=["steps=7"])
    assert cfg.steps == 7 and cfg.optim.lr == 0.5
    assert to_dict(cfg)["optim"]["betas"] == [0.9, 0.999]


def test_bad_recipe_and_override_syntax(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [1,\n")
    with pytest.raises(MobilevidError, match="not valid"):
        resolve_config(Run, recipe=bad)
    with pytest.raises(MobilevidError, match="key.sub=value"):
        apply_overrides({}, ["novalue"])


def test_yaml_bare_no_reads_as_the_word_for_a_literal(tmp_path):
    # YAML 1.1 parses `no` as False; `--set mixed_precision=no` and `mixed_precision: no` must still work.
    assert resolve_config(Run, overrides=["precision=no"]).precision == "no"
    recipe = tmp_path / "r.yaml"
    recipe.write_text("precision: no\n")
    assert resolve_config(Run, recipe=recipe).precision == "no"
    with pytest.raises(MobilevidError, match=r"'precision': expected one of"):
        resolve_config(Run, overrides=["precision=true"])
