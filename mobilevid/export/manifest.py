"""``manifest.json``: the contract between an export bundle and the apps that run it.

Schema ``mobilevid.bundle`` version 1 (export/README.md documents every field). A reader
must check ``schema`` and ``schema_version`` and refuse versions it does not know.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from mobilevid.artifacts import read_json
from mobilevid.errors import MobilevidError

SCHEMA = "mobilevid.bundle"
SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"

_DTYPES = {torch.float32: "float32", torch.float16: "float16", torch.int32: "int32", torch.int64: "int64"}


def tensor_spec(name: str, tensor: torch.Tensor) -> dict[str, Any]:
    return {"name": name, "shape": list(tensor.shape), "dtype": _DTYPES[tensor.dtype]}


def model_hash(model_dir: Path) -> str:
    """SHA-256 over the model folder's files (relative paths and contents, in sorted order)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(model_dir).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(model_dir)).encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_manifest(bundle: str | Path) -> dict[str, Any]:
    """A bundle's manifest, checked for schema and the files it lists."""
    bundle = Path(bundle)
    if not bundle.is_dir():
        raise MobilevidError(f"bundle folder not found: {bundle}")
    if not (bundle / MANIFEST_NAME).is_file():
        raise MobilevidError(f"{bundle} is not an export bundle (no {MANIFEST_NAME})")
    manifest = read_json(bundle / MANIFEST_NAME)
    if manifest.get("schema") != SCHEMA or manifest.get("schema_version") != SCHEMA_VERSION:
        raise MobilevidError(f"{bundle / MANIFEST_NAME}: unsupported schema {manifest.get('schema')!r} "
                             f"version {manifest.get('schema_version')!r} (this mobilevid reads {SCHEMA} v{SCHEMA_VERSION})")
    for name, comp in manifest["components"].items():
        for f in comp["files"]:
            if not (bundle / f).exists():
                raise MobilevidError(f"bundle {bundle} is incomplete: {name} file {f} is missing")
    return manifest
