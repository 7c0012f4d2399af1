"""Typed dataclass configs: strict loading from dicts/JSON/YAML and ``key.sub=value`` overrides.

Configs are saved as JSON beside the weights they describe. An unknown key, or a value
of the wrong type, is an error that names the key and the expected type (nanoGPT's habit:
an unknown override is an error, not a silent default). Every float must be finite, and a
field annotated with ``Bounds`` (``PositiveFloat``, ``Seed``) must lie within them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml

from mobilevid.errors import MobilevidError

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Bounds:
    """The range a config field's number must lie in (``typing.Annotated`` metadata)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False  # ``low`` itself is excluded

    def check(self, value: float, key: str) -> None:
        below = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        if below or (self.high is not None and value > self.high):
            if self.low_open and self.high is None and self.low == 0:
                wanted = "positive"
            else:
                lo = "" if self.low is None else f"{'>' if self.low_open else '>='} {self.low:g}"
                hi = "" if self.high is None else f"<= {self.high:d}" if isinstance(self.high, int) else f"<= {self.high:g}"
                wanted = " and ".join(part for part in (lo, hi) if part)
            raise MobilevidError(f"config key '{key}': must be {wanted}, got {value!r}")


PositiveFloat = Annotated[float, Bounds(low=0.0, low_open=True)]  # e.g. learning rates
PositiveInt = Annotated[int, Bounds(low=1)]  # e.g. batch sizes
Probability = Annotated[float, Bounds(low=0.0, high=1.0)]  # e.g. caption dropout
# torch.Generator.manual_seed's signed 64-bit range (sampling.SEED_MAX), portable to other languages' RNGs.
Seed = Annotated[int, Bounds(low=0, high=2**63 - 1)]


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert where it is lossless."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is Annotated:
        value = _coerce(value, args[0], key)
        for bound in (a for a in args[1:] if isinstance(a, Bounds)):
            bound.check(value, key)
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except MobilevidError as err:
                errors.append(err)
        if len(errors) == 1:  # an optional value: its own error names the item and the bound that failed
            raise errors[0]
        raise MobilevidError(f"config key '{key}': expected {_type_name(tp)}, got {value!r}")
    if origin is typing.Literal:
        # YAML 1.1 reads a bare `no` (mixed_precision: no) as False: take it back as the word.
        if value is False and "no" in args:
            value = "no"
        if value not in args:
            raise MobilevidError(f"config key '{key}': expected one of {list(args)}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise MobilevidError(f"config key '{key}': expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, prefix=f"{key}.")
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise MobilevidError(f"config key '{key}': expected {_type_name(tp)}, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise MobilevidError(f"config key '{key}': expected {_type_name(tp)}, got {value!r}")
            items = [_coerce(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))]
        else:
            item_tp = args[0] if args else Any
            items = [_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise MobilevidError(f"config key '{key}': expected {_type_name(tp)}, got {value!r}")
        val_tp = args[1] if args else Any
        return {str(k): _coerce(v, val_tp, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise MobilevidError(f"config key '{key}': expected a finite number, got {value!r}")
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif isinstance(tp, type) and isinstance(value, tp):
        return value
    raise MobilevidError(f"config key '{key}': expected {_type_name(tp)}, got {value!r}")


def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types are errors."""
    if not isinstance(data, dict):
        raise MobilevidError(f"config '{prefix or cls.__name__}': expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise MobilevidError(
            f"unknown config key '{prefix}{unknown[0]}' (valid keys: {', '.join(sorted(fields))})"
        )
    required = [name for name, f in fields.items()
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [name for name in required if name not in data]
    if missing:
        raise MobilevidError(f"missing config key '{prefix}{missing[0]}'"
                             + (f" ({len(missing)} missing: {', '.join(missing)})" if len(missing) > 1 else ""))
    kwargs = {name: _coerce(value, hints[name], f"{prefix}{name}") for name, value in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise MobilevidError(f"config '{prefix or cls.__name__}': {err}") from None


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``key.sub=value``; the value is read as YAML so ``3``, ``1e-4``, ``true``, ``[1,2]`` are typed."""
    if "=" not in text:
        raise MobilevidError(f"override '{text}' must look like key.sub=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise MobilevidError(f"override '{text}' has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str):
        # YAML 1.1 reads "3e-3" as a string; numbers people type should be numbers.
        try:
            value = float(value) if any(ch in value for ch in ".eE") else int(value)
        except ValueError:
            pass
    return key, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set nested keys in a plain dict from ``key.sub=value`` strings (validated later by ``from_dict``)."""
    data = json.loads(json.dumps(data))
    for text in overrides:
        key, value = parse_override(text)
        node = data
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.get(part) if isinstance(node, dict) else None
            if not isinstance(child, dict):
                if child is None and isinstance(node, dict) and part not in node:
                    raise MobilevidError(f"unknown config key '{'.'.join(parts[: i + 1])}'")
                raise MobilevidError(f"config key '{'.'.join(parts[: i + 1])}' is not a section")
            node = child
        node[parts[-1]] = value
    return data


def read_recipe(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON recipe file into a dict."""
    path = Path(path)
    if not path.is_file():
        raise MobilevidError(f"recipe not found: {path}")
    kind = "JSON" if path.suffix == ".json" else "YAML"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise MobilevidError(f"recipe {path} is not a {kind} text file (byte {err.start} is not UTF-8)") from None
    try:
        data = json.loads(text) if kind == "JSON" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        line = str(err).splitlines()[0]
        raise MobilevidError(f"recipe {path} is not valid {kind}: {line}") from None
    except RecursionError:  # e.g. thousands of nested brackets
        raise MobilevidError(f"recipe {path} is not valid {kind}: nested too deeply") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MobilevidError(f"recipe {path} must hold a mapping at the top level")
    return data


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve_config(
    cls: type[T], defaults: T | None = None, recipe: str | Path | None = None, overrides: list[str] | None = None
) -> T:
    """Defaults, then a recipe file, then ``--set`` overrides: the resolved, validated config."""
    data = to_dict(defaults if defaults is not None else cls())
    if recipe is not None:
        data = _merge(data, read_recipe(recipe))
    data = apply_overrides(data, overrides or [])
    return from_dict(cls, data)


def load_json_config(cls: type[T], path: str | Path) -> T:
    """Load a dataclass config from a JSON file with a one-line error on any problem."""
    path = Path(path)
    if not path.is_file():
        raise MobilevidError(f"missing {path.name} in {path.parent}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise MobilevidError(f"{path} is not valid JSON: {err}") from None
    return from_dict(cls, data)
