"""Which export options combine: checked before any work, and cheap to import (the CLI's --help lists them)."""

from __future__ import annotations

from mobilevid.errors import MobilevidError

# target -> delegate -> quantize options. None: the target has no delegate choice.
VALID: dict[str, dict[str | None, tuple[str, ...]]] = {
    "coreml": {None: ("none", "int8", "int4", "palettize6", "palettize4")},
    "executorch": {"xnnpack": ("none", "w8a8"), "coreml": ("none",)},
    "onnx": {None: ("none", "int8", "w8a8")},
}


def valid_combinations() -> list[str]:
    rows = []
    for target, delegates in VALID.items():
        for delegate, options in delegates.items():
            rows.append(f"--target {target}" + (f" --delegate {delegate}" if delegate else "")
                        + f" --quantize {'|'.join(options)}")
    return rows


def check_combination(target: str, quantize: str, delegate: str | None) -> str | None:
    """Validate before any work; returns the effective delegate (executorch defaults to xnnpack)."""
    if target not in VALID:
        raise MobilevidError(f"unknown target {target!r}; valid: {', '.join(VALID)}")
    if target == "executorch" and delegate is None:
        delegate = "xnnpack"
    if delegate not in VALID[target] or quantize not in VALID[target][delegate]:
        what = f"--target {target}" + (f" --delegate {delegate}" if delegate else "") + f" --quantize {quantize}"
        raise MobilevidError(f"invalid combination {what}; valid: {'; '.join(valid_combinations())}")
    return delegate
