import re
from dataclasses import dataclass, field
from typing import Literal

import pytest

from mobilevid.config import PositiveFloat, Seed, apply_overrides, from_dict, resolve_config, to_dict
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


@dataclass
class Bounded:
    lr: PositiveFloat = 1e-3
    seed: Seed = 0
    scales: dict[str, float] = field(default_factory=dict)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("lr=-1e-4", "'lr': must be positive, got -0.0001"),
        ("lr=0", "'lr': must be positive"),
        ("lr=.nan", "'lr': expected a finite number, got nan"),
        ("lr=1e999", "'lr': expected a finite number, got inf"),
        ("scales.x=.inf", "'scales.x': expected a finite number"),
        ("seed=-1", "'seed': must be >= 0 and <= 9223372036854775807"),
        (f"seed={2**63}", "'seed': must be >= 0 and <= 9223372036854775807"),
    ],
)
def test_out_of_range_numbers_are_one_line_errors(override, message):
    with pytest.raises(MobilevidError, match=re.escape(message)) as err:
        resolve_config(Bounded, overrides=[override])
    assert "\n" not in str(err.value)


def test_bounds_keep_the_values_they_allow():
    cfg = resolve_config(Bounded, overrides=["lr=3e-4", f"seed={2**63 - 1}", "scales.x=0.5"])
    assert (cfg.lr, cfg.seed, cfg.scales) == (3e-4, 2**63 - 1, {"x": 0.5})


def test_the_real_configs_bound_learning_rates_and_seeds():
    from mobilevid.distillation.distill_config import DistillConfig
    from mobilevid.training.train_config import TrainConfig

    for key in ("vae.lr", "vae_decoder.lr", "layout.lr", "denoiser.lr"):
        with pytest.raises(MobilevidError, match=f"'{key}': must be positive"):
            resolve_config(TrainConfig, overrides=[f"{key}=-1"])
    for key in ("lr_student", "lr_heads"):
        with pytest.raises(MobilevidError, match=f"'{key}': expected a finite number"):
            resolve_config(DistillConfig, overrides=[f"{key}=.nan"])
    for cls in (TrainConfig, DistillConfig):
        with pytest.raises(MobilevidError, match="'seed': must be >= 0"):
            resolve_config(cls, overrides=[f"seed={2**64}"])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("random.yaml", bytes(range(256)) * 4, "is not a YAML text file"),
        ("random.json", b"\x89PNG\r\n\x1a\n\xff\xfe" * 50, "is not a JSON text file"),
        ("control.yaml", b"steps: \x07\x08\n", "is not valid YAML"),
        ("deep.json", b"[" * 100_000, "is not valid JSON"),
        ("scalar.yaml", b"just words", "must hold a mapping"),
    ],
)
def test_a_recipe_that_is_not_text_or_not_a_mapping_is_one_line(tmp_path, name, content, message):
    recipe = tmp_path / name
    recipe.write_bytes(content)
    with pytest.raises(MobilevidError, match=message) as err:
        resolve_config(Run, recipe=recipe)
    assert "\n" not in str(err.value)


@dataclass
class Required:
    name: str
    size: int
    optim: Optim = field(default_factory=Optim)


def test_missing_required_keys_are_named():
    with pytest.raises(MobilevidError, match=r"missing config key 'size'$"):
        from_dict(Required, {"name": "a"})
    with pytest.raises(MobilevidError, match=r"missing config key 'name' \(2 missing: name, size\)"):
        from_dict(Required, {})
    assert from_dict(Required, {"name": "a", "size": 2}).optim.lr == 1e-4
