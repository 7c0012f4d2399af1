"""Core ML export (``torch.export`` -> coremltools ML program) and Core ML weight compression.

Conversion follows Apple's guidance for diffusion models on iPhone:

- apple/ml-stable-diffusion (README, "Converting Models to Core ML" and "Weight Compression"):
  fp16 ML programs, weight palettization (6 bits near-lossless, mixed-bit down to ~4 bits for
  the smallest models), and chunking a UNet into pieces of under 1 GB of weights
  (``--chunk-unet``), which the README says Neural Engine deployment on iOS/iPadOS requires;
- apple/ml-ane-transformers ("Deploying Transformers on the Apple Neural Engine"): static
  shapes, fp16, a (B, C, 1, S) layout with 1x1 convolutions and per-head attention; those are
  properties of the model code, this module only keeps shapes static and precision fp16.

Compression (``coremltools.optimize.coreml``, all on iOS18 ops, post-training, weight-only):

- ``none``: fp16 weights;
- ``int8``: ``linear_quantize_weights``, symmetric int8, one scale per output channel;
- ``int4``: ``linear_quantize_weights``, symmetric int4, one scale per block of 32 input weights;
- ``palettize6`` / ``palettize4``: ``palettize_weights``, k-means look-up tables of 64 / 16
  fp16 values, one table per group of 16 output channels.

``MLModel.predict`` exists only on macOS; here the saved program is validated from its spec
(``inspect_coreml``) and run by ``coreml_runner`` where Core ML is present.
"""

from __future__ import annotations

import collections
import functools
import logging
import math
import platform
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mobilevid.errors import MobilevidError
from mobilevid.export.parity import ParityError

logger = logging.getLogger("mobilevid.export")

QUANTIZE = ("none", "int8", "int4", "palettize6", "palettize4")
# ml-stable-diffusion chunks models above ~1 GB of weights: iOS will not load bigger ones on the ANE.
MAX_CHUNK_BYTES = 1_000_000_000
# GroupNorm is lowered to these ops; its mean and variance over up to ~10^6 fp16 values lose
# precision (and can overflow) in fp16, so by default they stay fp32. The Neural
# Engine computes in fp16 only: on device those ops run on the CPU/GPU, one hand-off per norm;
# ``fp32_norm_stats=False`` keeps the whole program fp16 (ml-stable-diffusion's choice).
FP32_OPS = frozenset({"reduce_mean", "square", "sub", "sqrt", "real_div"})
_GROUP_SIZE = 16  # output channels per palette: half coremltools' default 32, < 0.01 bit/weight of tables
_BLOCK_SIZE = 32  # input weights per int4 scale
_WEIGHT_THRESHOLD = 2048  # smaller tensors (norms, biases) stay fp16: too small to matter
_DTYPES = {torch.float32: "FLOAT32", torch.float16: "FLOAT16", torch.int32: "INT32"}


def _np_dtype(dtype: torch.dtype) -> type:
    if dtype == torch.int32:
        return np.int32
    if dtype == torch.float32:
        return np.float32
    # Core ML has no int64 inputs and fp16 inputs would change the app's calling convention.
    raise MobilevidError(f"Core ML export takes float32 or int32 inputs, not {dtype}")


def _decompositions() -> dict:
    """Core ATen ops that coremltools 9.0's torch.export frontend cannot translate, rewritten.

    ``run_decompositions({})`` keeps composite ops (sdpa, layer_norm, group_norm) that Core ML
    maps to fused ops; only these few are lowered (both appear in the BERT text encoder's mask code).
    """
    from torch._decomp import get_decompositions

    table = get_decompositions([torch.ops.aten.new_ones, torch.ops.aten.new_zeros, torch.ops.aten.new_full])
    table[torch.ops.aten.__and__.Tensor] = lambda a, b: torch.ops.aten.bitwise_and.Tensor(a, b)
    table[torch.ops.aten.__or__.Tensor] = lambda a, b: torch.ops.aten.bitwise_or.Tensor(a, b)
    return table


def convert_coreml(component, fp32_norm_stats: bool = True) -> Any:
    """The fp16 ML program of ``component`` as an ``MLModel`` (not compressed, not compiled)."""
    import coremltools as ct

    # The torch.export frontend rejects non-contiguous example inputs (dim order).
    args = tuple(v.contiguous() for v in component.example.values())
    with torch.no_grad():
        program = torch.export.export(component.module.eval(), args).run_decompositions(_decompositions())
    inputs = [ct.TensorType(name=k, shape=tuple(v.shape), dtype=_np_dtype(v.dtype)) for k, v in component.example.items()]
    # fp32 outputs: what PyTorch returns and what the parity gate compares against.
    outputs = [ct.TensorType(name=n, dtype=np.float32) for n in component.output_names]
    keep_fp32 = FP32_OPS if fp32_norm_stats else frozenset()
    return ct.convert(
        program,
        convert_to="mlprogram",
        inputs=inputs,
        outputs=outputs,
        # iOS18: per-block int4 and per-grouped-channel palettes need it; all options use it alike.
        minimum_deployment_target=ct.target.iOS18,
        compute_precision=ct.transform.FP16ComputePrecision(op_selector=lambda op: op.op_type not in keep_fp32),
        # Compiling needs Core ML (macOS); the package is compiled on device anyway.
        skip_model_load=True,
    )


def _exact_kmeans() -> Callable | None:
    """coremltools' private k-means helper (None if a release moves it: the public mode is used then)."""
    try:
        from coremltools.models.neural_network.quantization_utils import _get_kmeans_lookup_table_and_weight
    except ImportError:  # pragma: no cover
        return None
    return _get_kmeans_lookup_table_and_weight


def _kmeans_lut(val: np.ndarray, nbits: int) -> tuple[np.ndarray, np.ndarray]:
    """Optimal 1-D k-means palette of one channel group: coremltools' bundled ``kmeans1d``.

    ``mode="kmeans"`` already uses it for groups of >= 10k fp16 weights but falls back to
    scikit-learn's k-means++ below that; on the tiny model that was 3x slower and slightly
    worse (4-bit weight SNR 21.9 against 22.3 dB), so every group gets the exact solver.
    """
    lut, indices = _exact_kmeans()(nbits, val, force_kmeans1d=True)
    return lut.astype(val.dtype), indices.astype(np.uint8)


def _weight_shapes(model: Any) -> dict[str, list[int]]:
    """Shape of every weight constant of at least ``_WEIGHT_THRESHOLD`` elements and two axes, by name."""
    spec = model.get_spec()
    function = spec.mlProgram.functions["main"]
    shapes = {}
    for op in function.block_specializations[function.opset].operations:
        if op.type != "const":
            continue
        dims = [d.constant.size for d in op.outputs[0].type.tensorType.dimensions]
        if len(dims) >= 2 and math.prod(dims) >= _WEIGHT_THRESHOLD:
            shapes[op.outputs[0].name] = dims
    return shapes


def _ungroupable_weights(model: Any) -> list[str]:
    """Names of weight constants whose first axis (output channels) is not a multiple of ``_GROUP_SIZE``.

    coremltools skips those under per-grouped-channel palettization and leaves them fp16; the
    text encoder's word embedding (30522 rows, half its weights) is one.
    """
    return [name for name, dims in _weight_shapes(model).items() if dims[0] % _GROUP_SIZE]


def _block_sizes(model: Any) -> dict[str, int]:
    """A block size for each weight whose input axis is not a multiple of ``_BLOCK_SIZE``: its largest divisor below.

    coremltools skips such weights under per-block int4 and leaves them fp16; a pruned model's
    widths (28, 56, 84 channels) are all of this kind, which left most of its denoiser unquantized.
    """
    sizes = {}
    for name, dims in _weight_shapes(model).items():
        if dims[1] % _BLOCK_SIZE:
            sizes[name] = max(b for b in range(1, _BLOCK_SIZE) if dims[1] % b == 0)
    return sizes


def _compression_config(quantize: str, model: Any) -> Any:
    import coremltools.optimize.coreml as cto

    if quantize == "int8":
        op = cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", granularity="per_channel",
                                         weight_threshold=_WEIGHT_THRESHOLD)
        return cto.OptimizationConfig(global_config=op)
    if quantize == "int4":
        # Per-channel int4 is too coarse for conv/attention weights; per-block scales recover most of it.
        def per_block(size: int) -> Any:
            return cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int4", granularity="per_block",
                                               block_size=size, weight_threshold=_WEIGHT_THRESHOLD)

        return cto.OptimizationConfig(global_config=per_block(_BLOCK_SIZE),
                                      op_name_configs={n: per_block(b) for n, b in _block_sizes(model).items()})
    if quantize not in ("palettize6", "palettize4"):
        raise MobilevidError(f"unknown Core ML quantization '{quantize}' (valid: {', '.join(QUANTIZE)})")
    nbits = int(quantize[-1])
    if _exact_kmeans() is None:  # pragma: no cover
        kmeans = {"mode": "kmeans", "nbits": nbits}
    else:
        kmeans = {"mode": "custom", "lut_function": functools.partial(_kmeans_lut, nbits=nbits)}
    # One palette per group of output channels: channels differ in scale and a single table per
    # tensor spends its entries on the widest ones (ml-stable-diffusion's grouped palettization).
    grouped = cto.OpPalettizerConfig(granularity="per_grouped_channel", group_size=_GROUP_SIZE,
                                     weight_threshold=_WEIGHT_THRESHOLD, **kmeans)
    per_tensor = cto.OpPalettizerConfig(granularity="per_tensor", weight_threshold=_WEIGHT_THRESHOLD, **kmeans)
    return cto.OptimizationConfig(global_config=grouped,
                                  op_name_configs={n: per_tensor for n in _ungroupable_weights(model)})


def compress_coreml(model: Any, quantize: str) -> Any:
    """``model`` (an fp16 ``MLModel``) with its weights compressed as ``quantize`` says; a new model."""
    import coremltools.optimize.coreml as cto

    if quantize == "none":
        return model
    config = _compression_config(quantize, model)
    if quantize.startswith("palettize"):
        return cto.palettize_weights(model, config)
    return cto.linear_quantize_weights(model, config)


def _weights_dir(package: Path) -> Path:
    return package / "Data" / "com.apple.CoreML" / "weights"


def weights_bytes(package: Path) -> int:
    """Bytes of the weight files inside an ``.mlpackage``."""
    folder = _weights_dir(Path(package))
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.is_dir() else 0


def split_mlpackage(package: Path, max_bytes: int = MAX_CHUNK_BYTES) -> list[Path]:
    """Split ``package`` with ``bisect_model`` until every piece's weights are under ``max_bytes``.

    The pieces replace ``package`` as ``<stem>_chunk1.mlpackage``, ``<stem>_chunk2.mlpackage``, ...
    (run in that order, each feeding the next); a package already small enough is returned as is.
    """
    import coremltools as ct

    package = Path(package)
    if weights_bytes(package) < max_bytes:
        return [package]
    work = Path(tempfile.mkdtemp(prefix=f".{package.stem}.", dir=package.parent))
    try:
        pending, done = [package], []
        while pending:
            piece = pending.pop(0)
            size = weights_bytes(piece)
            if size < max_bytes:
                done.append(piece)
                continue
            try:  # check_output_correctness would call MLModel.predict, which Linux does not have
                ct.models.utils.bisect_model(str(piece), str(work), check_output_correctness=False)
            except ValueError as e:
                raise MobilevidError(f"cannot split {package.name} below {max_bytes} bytes: {e}") from None
            halves = [work / f"{piece.stem}_chunk1.mlpackage", work / f"{piece.stem}_chunk2.mlpackage"]
            if max(weights_bytes(h) for h in halves) >= size:
                raise MobilevidError(f"cannot split {package.name} below {max_bytes} bytes: one weight is too big")
            pending[:0] = halves  # depth first keeps the execution order
        final = [package.parent / f"{package.stem}_chunk{i}.mlpackage" for i in range(1, len(done) + 1)]
        for src, dst in zip(done, final, strict=True):
            if dst.exists():
                shutil.rmtree(dst)
            shutil.move(str(src), str(dst))
        shutil.rmtree(package)
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _save(model: Any, component, quantize: str, out_dir: Path, max_chunk_bytes: int) -> list[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{component.name}.mlpackage"
    for old in [path, *out_dir.glob(f"{component.name}_chunk*.mlpackage")]:
        shutil.rmtree(old, ignore_errors=True)  # a re-export must not mix with old chunks
    compress_coreml(model, quantize).save(str(path))
    return [p.name for p in split_mlpackage(path, max_chunk_bytes)]


def _check_quantize(quantize: str) -> None:
    if quantize not in QUANTIZE:
        raise MobilevidError(f"unknown Core ML quantization '{quantize}' (valid: {', '.join(QUANTIZE)})")


def export_coreml(component, quantize: str, out_dir: Path, max_chunk_bytes: int = MAX_CHUNK_BYTES,
                  fp32_norm_stats: bool = True) -> list[str]:
    """Write ``<component>.mlpackage`` (compressed as asked) into ``out_dir``; returns the file names.

    A model whose weights reach ``max_chunk_bytes`` is saved as ``<component>_chunkN.mlpackage``
    pieces instead, listed in the order they run.
    """
    _check_quantize(quantize)
    return _save(convert_coreml(component, fp32_norm_stats), component, quantize, Path(out_dir), max_chunk_bytes)


def export_coreml_variants(component, quantizes: Sequence[str], out_dir: Path,
                           max_chunk_bytes: int = MAX_CHUNK_BYTES, fp32_norm_stats: bool = True
                           ) -> dict[str, list[str]]:
    """``export_coreml`` for several compressions from one conversion, into ``out_dir/<quantize>/``.

    Conversion is most of the cost (coremltools validates the program after each of ~100 passes),
    so comparing compressions this way saves one conversion per option.
    """
    for q in quantizes:
        _check_quantize(q)
    model = convert_coreml(component, fp32_norm_stats)
    return {q: _save(model, component, q, Path(out_dir) / q, max_chunk_bytes) for q in quantizes}


def _feature(feature: Any) -> dict[str, Any]:
    from coremltools.proto import FeatureTypes_pb2

    array = feature.type.multiArrayType
    dtype = FeatureTypes_pb2.ArrayFeatureType.ArrayDataType.Name(array.dataType)
    return {"name": feature.name, "shape": [int(s) for s in array.shape], "dtype": dtype}


def _count_ops(block: Any, counts: collections.Counter, fp32: collections.Counter) -> None:
    from coremltools.proto import MIL_pb2

    for op in block.operations:
        counts[op.type] += 1
        # Output tensor dtypes tell the compute precision; casts and constants are not compute.
        if op.type != "cast" and not op.type.startswith("const"):
            for out in op.outputs:
                if out.type.tensorType.dataType == MIL_pb2.DataType.FLOAT32:
                    fp32[op.type] += 1
                    break
        for inner in op.blocks:
            _count_ops(inner, counts, fp32)


def _inspect_package(path: Path) -> dict[str, Any]:
    from coremltools.models.utils import load_spec

    if not Path(path, "Manifest.json").is_file():
        raise ParityError(f"not a Core ML package: {path}")
    spec = load_spec(str(path))
    if not spec.HasField("mlProgram"):
        raise ParityError(f"{Path(path).name} is not an ML program")
    function = spec.mlProgram.functions["main"]
    counts: collections.Counter = collections.Counter()
    fp32: collections.Counter = collections.Counter()
    _count_ops(function.block_specializations[function.opset], counts, fp32)
    compute = sum(n for op, n in counts.items() if op != "cast" and not op.startswith("const"))
    precision = "float32" if sum(fp32.values()) == compute else "float16" if not fp32 else "mixed"
    return {
        "path": str(path),
        "inputs": [_feature(f) for f in spec.description.input],
        "outputs": [_feature(f) for f in spec.description.output],
        "op_counts": dict(counts.most_common()),
        "weights_bytes": weights_bytes(Path(path)),
        "compute_precision": precision,
        "float32_ops": dict(fp32.most_common()),
        "deployment_opset": function.opset,
    }


def inspect_coreml(path: Path | Sequence[Path], component) -> dict[str, Any]:
    """Validate a saved Core ML export of ``component`` from its spec; raise ``ParityError`` on a mismatch.

    ``path`` is one ``.mlpackage`` or the chunks of a split one in order: the chunks' inputs must
    be the component's inputs (names, shapes, dtypes) or outputs of earlier chunks, and the last
    chunk must return exactly the component's outputs. Returns inputs, outputs, op counts (summed
    over chunks), weight bytes on disk and the compute precision, plus per-chunk details.
    """
    paths = [Path(path)] if isinstance(path, str | Path) else [Path(p) for p in path]
    if not paths:
        raise ParityError(f"{component.name}: no Core ML package to inspect")
    chunks = [_inspect_package(p) for p in paths]
    expected = {k: {"shape": list(v.shape), "dtype": _DTYPES.get(v.dtype, str(v.dtype))}
                for k, v in component.example.items()}
    available = dict(expected)  # what a chunk may read: component inputs, then earlier chunks' outputs
    for i, chunk in enumerate(chunks):
        where = f"{component.name}: {Path(chunk['path']).name}"
        names = [f["name"] for f in chunk["inputs"]]
        if i == 0 and len(chunks) == 1 and names != list(expected):
            raise ParityError(f"{where} has inputs {names}, expected {list(expected)}")
        for f in chunk["inputs"]:
            want = available.get(f["name"])
            if want is None:
                raise ParityError(f"{where} takes input '{f['name']}', which is neither a component input "
                                  f"({', '.join(expected)}) nor an earlier chunk's output")
            if f["name"] in expected and (f["shape"] != want["shape"] or f["dtype"] != want["dtype"]):
                raise ParityError(f"{where} input '{f['name']}' is {f['dtype']}{f['shape']}, "
                                  f"expected {want['dtype']}{want['shape']}")
        available.update({f["name"]: {"shape": f["shape"], "dtype": f["dtype"]} for f in chunk["outputs"]})
    used = {f["name"] for c in chunks for f in c["inputs"]}
    if missing := [k for k in expected if k not in used]:
        raise ParityError(f"{component.name}: the Core ML model never reads inputs {missing}")
    outputs = [f["name"] for f in chunks[-1]["outputs"]]
    if outputs != list(component.output_names):
        raise ParityError(f"{component.name}: Core ML outputs are {outputs}, expected {list(component.output_names)}")
    op_counts: collections.Counter = collections.Counter()
    fp32: collections.Counter = collections.Counter()
    for c in chunks:
        op_counts.update(c["op_counts"])
        fp32.update(c["float32_ops"])
    precisions = {c["compute_precision"] for c in chunks}
    return {
        # a component input can feed several chunks: list each once, in the component's order
        "inputs": chunks[0]["inputs"] if len(chunks) == 1 else
        [next(f for c in chunks for f in c["inputs"] if f["name"] == k) for k in expected],
        "outputs": chunks[-1]["outputs"],
        "op_counts": dict(op_counts.most_common()),
        "weights_bytes": sum(c["weights_bytes"] for c in chunks),
        "compute_precision": precisions.pop() if len(precisions) == 1 else "mixed",
        "float32_ops": dict(fp32.most_common()),
        "chunks": chunks,
    }


def coreml_runs_here() -> bool:
    """Core ML can execute models only on macOS (coremltools' predict needs the Core ML framework)."""
    return platform.system() == "Darwin"


def coreml_runner(path: Path | Sequence[Path], input_names: Sequence[str] | None = None,
                  compute_units: str = "ALL") -> Callable[[Sequence[torch.Tensor]], list[torch.Tensor]]:
    """A Core ML model (or its chunks, in order) as ``run(inputs) -> outputs``; macOS only.

    ``inputs`` are tensors in the order of ``input_names`` (default: the order in which the
    chunks first read them, which for one package is its own input order); each chunk reads
    what it needs from the inputs and from earlier chunks' outputs.
    """
    if not coreml_runs_here():
        raise MobilevidError("Core ML models run only on macOS; use inspect_coreml to check them here")
    import coremltools as ct

    paths = [Path(path)] if isinstance(path, str | Path) else [Path(p) for p in path]
    models = [ct.models.MLModel(str(p), compute_units=ct.ComputeUnit[compute_units]) for p in paths]
    specs = [m.get_spec().description for m in models]
    if input_names is None:
        produced: set[str] = set()
        input_names = []
        for spec in specs:
            input_names += [f.name for f in spec.input if f.name not in produced and f.name not in input_names]
            produced |= {f.name for f in spec.output}
    output_names = [f.name for f in specs[-1].output]

    def run(inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        values = {n: np.asarray(x.numpy() if isinstance(x, torch.Tensor) else x)
                  for n, x in zip(input_names, inputs, strict=True)}
        for model, spec in zip(models, specs, strict=True):
            values.update(model.predict({f.name: values[f.name] for f in spec.input}))
        return [torch.from_numpy(np.asarray(values[n], dtype=np.float32)) for n in output_names]

    return run
