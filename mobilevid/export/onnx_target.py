"""ONNX export (torch.onnx dynamo exporter, opset 18) and ONNX Runtime quantization.

- ``none``: float32 graph;
- ``int8``: ``quantize_dynamic``: int8 per-channel weights, activations quantized at run time;
- ``w8a8``: ``quantize_static`` in QDQ format: int8 per-channel weights and int8 activations
  whose ranges are calibrated on the component's real inputs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from mobilevid.errors import MobilevidError

logger = logging.getLogger("mobilevid.export")

OPSET = 18
QUANTIZE = ("none", "int8", "w8a8")


def _export_float(component, path: Path) -> None:
    import onnx

    args = tuple(component.example.values())
    program = torch.onnx.export(component.module, args, dynamo=True, opset_version=OPSET,
                                input_names=list(component.example), output_names=list(component.output_names),
                                verbose=False)
    if program is None:
        raise MobilevidError(f"ONNX export of {component.name} returned nothing")
    program.save(str(path))
    # The dynamo exporter records intermediate shapes (value_info) that ONNX's own shape
    # inference can disagree with (seen on the BERT text encoder); drop them: they are optional.
    model = onnx.load(str(path))
    del model.graph.value_info[:]
    onnx.save(model, str(path))
    onnx.checker.check_model(str(path))


class _Calibration:
    """ONNX Runtime's CalibrationDataReader over the component's real inputs."""

    def __init__(self, component) -> None:
        self._items = iter([{k: v.numpy() for k, v in s.items()} for s in component.samples])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)


def _rename_intermediates(path: Path) -> None:
    """Give every intermediate tensor a fresh name (``t<node>_<output>``), in place.

    Why by hand: with the layout map in the default model, ``quantize_static`` turned
    the torch exporter's intermediate ``val_2852`` (a GELU product) into a (16,) constant, and the
    quantized graph failed ONNX Runtime's shape check; the same graph with renamed intermediates
    quantizes and loads. Graph inputs, outputs and initialisers keep their names.
    """
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    keep = {v.name for v in graph.input} | {v.name for v in graph.output} | {t.name for t in graph.initializer}
    renamed: dict[str, str] = {}
    for k, node in enumerate(graph.node):
        for i, name in enumerate(node.output):
            if name and name not in keep:
                renamed[name] = f"t{k}_{i}"
                node.output[i] = renamed[name]
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
    del graph.value_info[:]  # stale names; the quantizer re-infers shapes
    onnx.save(model, str(path))


def export_onnx(component, quantize: str, out_dir: Path) -> list[str]:
    """Write ``<component>.onnx`` (quantized as asked) into ``out_dir``; returns the file names."""
    from onnxruntime.quantization import (
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_dynamic,
        quantize_static,
    )

    final = out_dir / f"{component.name}.onnx"
    if quantize == "none":
        _export_float(component, final)
        return [final.name]
    work = out_dir / f".{component.name}.work"
    work.mkdir(exist_ok=True)
    try:
        float_path, prep_path = work / "float.onnx", work / "prep.onnx"
        _export_float(component, float_path)
        quant_pre_process(str(float_path), str(prep_path), skip_symbolic_shape=True)
        _rename_intermediates(prep_path)
        if quantize == "int8":
            quantize_dynamic(str(prep_path), str(final), weight_type=QuantType.QInt8, per_channel=True)
        else:
            quantize_static(str(prep_path), str(final), _Calibration(component), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=True)
    finally:
        for f in work.iterdir():
            f.unlink()
        work.rmdir()
    return [final.name]


def _ort_message(err: Exception) -> str:
    """ONNX Runtime's reason without its code prefix and path ("Protobuf parsing failed.")."""
    text = str(err).splitlines()[0] if str(err) else err.__class__.__name__
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    return text.rsplit("failed:", 1)[-1].strip() or text


def onnx_runner(path: Path, threads: int | None = None) -> Callable[[Sequence[torch.Tensor]], list[torch.Tensor]]:
    """An ONNX Runtime session as ``run(inputs) -> outputs`` (tensors in the graph's input order).

    A file ONNX Runtime cannot load (truncated, not ONNX, missing) is a one-line error naming it.
    """
    import onnxruntime as ort
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

    # ONNX Runtime's errors derive from Exception alone: name the ones loading a bad file raises.
    load_errors = (ort_errors.InvalidProtobuf, ort_errors.InvalidArgument, ort_errors.NoSuchFile, ort_errors.Fail,
                   ort_errors.InvalidGraph, ort_errors.NotImplemented, ort_errors.RuntimeException)
    path = Path(path)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except load_errors as err:
        raise MobilevidError(f"ONNX Runtime cannot load {path.name} in {path.parent} (truncated or not an ONNX "
                             f"model?): {_ort_message(err)}") from None
    names = [i.name for i in session.get_inputs()]

    def run(inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        if len(inputs) != len(names):  # e.g. a manifest naming another component's file
            raise MobilevidError(f"{path.name} takes {len(names)} inputs ({', '.join(names)}), got {len(inputs)}: "
                                 "not the model the manifest says it is")
        feed = {n: (x.numpy() if isinstance(x, torch.Tensor) else x) for n, x in zip(names, inputs, strict=True)}
        try:
            outputs = session.run(None, feed)
        except ort_errors.InvalidArgument as err:  # e.g. a manifest whose shapes were edited
            raise MobilevidError(f"{path.name} rejects its inputs: {_ort_message(err)}") from None
        return [torch.from_numpy(np.asarray(o)) for o in outputs]

    return run
