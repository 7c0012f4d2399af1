"""Inputs for timing a bundle's components: random tensors of the manifest's shapes and dtypes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "int32": torch.int32, "int64": torch.int64}


def vocab_size(bundle: Path, manifest: dict[str, Any]) -> int:
    """Size of the bundled WordPiece vocabulary (token ids must stay below it)."""
    vocab = bundle / "tokenizer" / "vocab.txt"
    if vocab.is_file():
        with open(vocab, encoding="utf-8") as handle:
            return sum(1 for _ in handle)
    tok = manifest.get("tokenizer", {})
    # No vocabulary file: the special ids are the only ids known to be valid.
    return 1 + max(int(tok.get(k) or 0) for k in ("pad_id", "cls_id", "sep_id", "unk_id"))


def random_inputs(specs: Sequence[dict[str, Any]], vocab: int, seed: int = 0) -> list[torch.Tensor]:
    """Random tensors of the manifest's input specs; valid token ids, all-ones masks, mid-range timesteps."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for spec in specs:
        shape, dtype, name = list(spec["shape"]), _DTYPES[spec["dtype"]], spec["name"]
        if name == "input_ids":
            out.append(torch.randint(0, vocab, shape, generator=gen).to(dtype))
        elif name.endswith("mask"):
            out.append(torch.ones(shape, dtype=dtype))
        elif name == "timestep":
            out.append(torch.full(shape, 500.0, dtype=dtype))
        elif dtype.is_floating_point:
            out.append(torch.randn(shape, generator=gen).to(dtype))
        else:
            out.append(torch.zeros(shape, dtype=dtype))
    return out
