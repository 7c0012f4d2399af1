"""``manifest.json``: the contract between an export bundle and the apps that run it.

Schema ``mobilevid.bundle`` version 2, a typed, strict structure: an unknown key, a missing
key or a wrong type is an error. The JSON Schema beside this file (``manifest.schema.json``,
generated from these dataclasses by ``manifest_json_schema``) states the same for other
languages. Three parts:

- the contract (everything but ``provenance`` and ``diagnostics``): components with their
  files and tensor specs, the tokenizer, the sampler (levels, timesteps, guidance, step
  type), the noise rule and the pixel rule, precise enough to reproduce a video bit for bit
  (the rules are those of mobilevid/sampling.py);
- ``provenance``: what made the bundle (mobilevid and torch versions, the source model's hash);
- ``diagnostics``: what the export measured (parity, sizes, delegation, Core ML spec, seconds).

A reader must check ``schema`` and ``schema_version`` and refuse versions it does not know.
Swift twin: ios_demo/Sources/MobileVidCore/BundleManifest.swift
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from mobilevid.config import from_dict, to_dict
from mobilevid.errors import MobilevidError
from mobilevid.sampling import SamplerType, calls_per_step, check_guidance

SCHEMA = "mobilevid.bundle"
SCHEMA_VERSION = 2
MANIFEST_NAME = "manifest.json"
SCHEMA_FILE = Path(__file__).with_name("manifest.schema.json")

DType = Literal["float32", "float16", "int32", "int64"]
_DTYPES: dict[torch.dtype, DType] = {torch.float32: "float32", torch.float16: "float16", torch.int32: "int32",
                                      torch.int64: "int64"}
REQUIRED_COMPONENTS = ("text_encoder", "denoiser", "vae_decoder")


@dataclass
class TensorSpec:
    name: str
    shape: list[int]
    dtype: DType


@dataclass
class ComponentSpec:
    files: list[str]  # relative to the bundle; a Core ML component above 1 GB is several chunks, run in order
    inputs: list[TensorSpec]  # positional, in this order
    outputs: list[TensorSpec]
    quantize: str


@dataclass
class VideoSpec:
    frames: int
    fps: float
    height: int
    width: int


@dataclass
class LatentSpec:
    channels: int
    height: int
    width: int
    scaling_factor: float  # applied inside the exported decoder: the app feeds the sampler's latents as they are
    shift_factor: float | None


@dataclass
class TokenizerSpec:
    type: Literal["wordpiece"]
    files: list[str]
    max_length: int  # ids and mask are padded (pad_id, mask 0) or truncated to this length, [SEP] kept last
    lowercase: bool
    strip_accents: bool
    pad_id: int
    cls_id: int
    sep_id: int
    unk_id: int
    null_prompt: str  # the unconditional prompt of classifier-free guidance


@dataclass
class SamplerSpec:
    type: SamplerType  # "flow_match_euler" (a teacher) or "x0_renoise" (a distilled student)
    steps: int
    sigmas: list[float]  # steps + 1 float32 levels, from about 1 down to 0
    timesteps: list[float]  # the denoiser's timestep input at step i: float32(sigmas[i] * 1000)
    guidance_scale: float  # 1 = no unconditional call
    calls_per_step: int  # denoiser calls per step: 2 under guidance (conditional, then unconditional), else 1
    update: str  # the step, as a formula (mobilevid/sampling.py euler_step / renoise_step)
    guidance: str  # the combination, as a formula (mobilevid/sampling.py combine_guidance)


@dataclass
class NoiseSpec:
    generator: Literal["torch_cpu_mt19937"]  # torch.Generator() on the CPU: MT19937, torch's randn transform
    distribution: Literal["standard_normal"]
    dtype: Literal["float32"]
    shape: list[int]  # one draw: the denoiser's sample input without its batch dimension (F, C, h, w)
    seed_rule: Literal["seed_plus_prompt_index"]  # prompt i of a batch seeds its generator with seed + i
    order: str  # which draws a video takes from its generator, in order


@dataclass
class PixelSpec:
    decoder_output_range: list[float]
    to_unit: str  # decoder output -> [0, 1]
    to_uint8: str  # [0, 1] -> uint8
    layout: str  # the decoder's output layout


@dataclass
class SourceModel:
    path: str | None
    sha256: str | None
    preset: str


@dataclass
class Provenance:
    created_by: str
    torch: str
    source_model: SourceModel


@dataclass
class ComponentDiagnostics:
    bytes: int
    export_seconds: float
    parity: dict[str, Any]  # mobilevid/export/parity.py ParityReport.to_json, or why it did not run here
    delegation: dict[str, Any] | None = None  # ExecuTorch: ops delegated to the backend
    spec: dict[str, Any] | None = None  # Core ML: inputs, outputs and op counts read from the converted spec


@dataclass
class Diagnostics:
    export_seconds: float
    components: dict[str, ComponentDiagnostics] = field(default_factory=dict)


@dataclass
class Manifest:
    schema: Literal["mobilevid.bundle"]
    schema_version: int
    target: Literal["coreml", "executorch", "onnx"]
    delegate: str | None
    quantize: str
    video: VideoSpec
    latent: LatentSpec
    tokenizer: TokenizerSpec
    sampler: SamplerSpec
    noise: NoiseSpec
    pixels: PixelSpec
    components: dict[str, ComponentSpec]
    provenance: Provenance
    diagnostics: Diagnostics

    def to_json(self) -> dict[str, Any]:
        return to_dict(self)


def tensor_spec(name: str, tensor: torch.Tensor) -> TensorSpec:
    return TensorSpec(name=name, shape=list(tensor.shape), dtype=_DTYPES[tensor.dtype])


def model_hash(model_dir: Path) -> str:
    """SHA-256 over the model folder's files (relative paths and contents, in sorted order)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(model_dir).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(model_dir)).encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


# -- checking ------------------------------------------------------------------------------------------
def _inside(bundle: Path, name: str) -> Path:
    """A manifest's file entry resolved inside the bundle; an absolute path or one leaving it is refused."""
    path = Path(name)
    resolved = (bundle / path).resolve()
    if path.is_absolute() or not resolved.is_relative_to(bundle.resolve()):
        raise MobilevidError(f"{bundle / MANIFEST_NAME}: file entry {name!r} points outside the bundle")
    return resolved


def _check_contract(m: Manifest, where: Path) -> None:
    """The checks a schema cannot state: shapes agree with each other, levels agree with steps."""
    s = m.sampler
    if len(s.sigmas) != s.steps + 1 or len(s.timesteps) != s.steps or s.steps < 1:
        raise MobilevidError(f"{where}: sampler.sigmas must hold steps + 1 = {s.steps + 1} levels and "
                             f"sampler.timesteps {s.steps}")
    if any(b >= a for a, b in zip(s.sigmas, s.sigmas[1:], strict=False)) or s.sigmas[-1] != 0.0:
        raise MobilevidError(f"{where}: sampler.sigmas must decrease to 0, got {s.sigmas}")
    check_guidance(s.guidance_scale)
    if s.calls_per_step != calls_per_step(s.guidance_scale):
        raise MobilevidError(f"{where}: sampler.calls_per_step {s.calls_per_step} does not match guidance_scale "
                             f"{s.guidance_scale}")
    latent = [m.video.frames, m.latent.channels, m.latent.height, m.latent.width]
    if m.noise.shape != latent:
        raise MobilevidError(f"{where}: noise.shape {m.noise.shape} must be [frames, channels, height, width] = {latent}")
    if "denoiser" in m.components and m.components["denoiser"].inputs[0].shape != [1, *latent]:
        raise MobilevidError(f"{where}: the denoiser's sample input {m.components['denoiser'].inputs[0].shape} "
                             f"must be [1, frames, channels, height, width] = {[1, *latent]}")
    if "text_encoder" in m.components and m.components["text_encoder"].inputs[0].shape != [1, m.tokenizer.max_length]:
        raise MobilevidError(f"{where}: the text encoder's input_ids {m.components['text_encoder'].inputs[0].shape} "
                             f"do not match tokenizer.max_length {m.tokenizer.max_length}")
    unknown = sorted(set(m.components) - set(REQUIRED_COMPONENTS))
    if unknown or not m.components:
        raise MobilevidError(f"{where}: unknown component(s) {unknown or '(none)'}; valid: {', '.join(REQUIRED_COMPONENTS)}")


def require_components(m: Manifest, bundle: Path, names: tuple[str, ...] = REQUIRED_COMPONENTS) -> None:
    """A bundle that generates needs all three components."""
    missing = [c for c in names if c not in m.components]
    if missing:
        raise MobilevidError(f"bundle {bundle} lacks {', '.join(missing)}: cannot generate")


def parse_manifest(data: Any, where: Path | str = MANIFEST_NAME) -> Manifest:
    """A manifest from its JSON data: the schema version first, then every key and type, then the contract."""
    if not isinstance(data, dict):
        raise MobilevidError(f"{where}: expected a JSON object")
    if data.get("schema") != SCHEMA or data.get("schema_version") != SCHEMA_VERSION:
        raise MobilevidError(f"{where}: unsupported schema {data.get('schema')!r} version "
                             f"{data.get('schema_version')!r} (this mobilevid reads {SCHEMA} v{SCHEMA_VERSION})")
    try:
        manifest = from_dict(Manifest, data)
    except MobilevidError as err:
        raise MobilevidError(f"{where}: {str(err).replace('config ', 'manifest ')}") from None
    _check_contract(manifest, Path(where))
    check_against_schema(data, where)
    return manifest


def check_against_schema(data: dict[str, Any], where: Path | str = MANIFEST_NAME) -> None:
    """Validate manifest JSON against the committed JSON Schema, the contract other languages read.

    The typed parse above already refuses what the schema refuses; this keeps the two from drifting
    apart unnoticed, for every bundle written or read.
    """
    import jsonschema

    error = jsonschema.exceptions.best_match(_schema_validator().iter_errors(data))
    if error is not None:
        place = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise MobilevidError(f"{where}: does not follow {SCHEMA_FILE.name} at {place}: {error.message}")


@functools.cache
def _schema_validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))


def read_manifest(bundle: str | Path) -> Manifest:
    """A bundle's manifest, checked for schema, contract and the files it lists (all inside the bundle)."""
    bundle = Path(bundle)
    if not bundle.is_dir():
        raise MobilevidError(f"bundle folder not found: {bundle}")
    path = bundle / MANIFEST_NAME
    if not path.is_file():
        raise MobilevidError(f"{bundle} is not an export bundle (no {MANIFEST_NAME})")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise MobilevidError(f"{path} is not valid JSON: {err}") from None
    manifest = parse_manifest(data, path)
    files = [(name, f) for name, comp in manifest.components.items() for f in comp.files]
    files += [("tokenizer", f) for f in manifest.tokenizer.files]
    for name, f in files:
        if not _inside(bundle, f).exists():
            raise MobilevidError(f"bundle {bundle} is incomplete: {name} file {f} is missing")
    return manifest


def bundle_file(bundle: str | Path, name: str) -> Path:
    """A file named by the manifest, resolved inside the bundle (refused if it leaves it)."""
    return _inside(Path(bundle), name)


# -- the JSON Schema -----------------------------------------------------------------------------------
def _schema_of(tp: Any) -> dict[str, Any]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return {}
    if origin in (typing.Union, types.UnionType):
        options = [_schema_of(a) for a in args if a is not type(None)]
        nullable = type(None) in args
        base = options[0] if len(options) == 1 else {"anyOf": options}
        return {"anyOf": [base, {"type": "null"}]} if nullable else base
    if origin is Literal:
        return {"enum": list(args)}
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        fields = dataclasses.fields(tp)
        required = [f.name for f in fields if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING]
        return {"type": "object", "additionalProperties": False, "required": required,
                "properties": {f.name: _schema_of(hints[f.name]) for f in fields}}
    if origin is list:
        return {"type": "array", "items": _schema_of(args[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema_of(args[1])}
    return {bool: {"type": "boolean"}, int: {"type": "integer"}, float: {"type": "number"},
            str: {"type": "string"}}[tp]


def manifest_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``Manifest``, as committed in ``manifest.schema.json``."""
    schema = _schema_of(Manifest)
    schema["properties"]["schema_version"] = {"const": SCHEMA_VERSION}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"{SCHEMA}/v{SCHEMA_VERSION}",
            "title": "mobilevid export bundle manifest", **schema}


if __name__ == "__main__":  # python -m mobilevid.export.manifest: rewrite the committed schema file
    SCHEMA_FILE.write_text(json.dumps(manifest_json_schema(), indent=2) + "\n")
