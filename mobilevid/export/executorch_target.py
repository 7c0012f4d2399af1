"""ExecuTorch export: ``.pte`` programs for the XNNPACK CPU backend (fp32 or PT2E int8) or Core ML.

- ``xnnpack`` + ``none``: float32, every op XNNPACK supports delegated to it;
- ``xnnpack`` + ``w8a8``: PT2E static quantization (torchao's ``prepare_pt2e``/``convert_pt2e``
  with ``XNNPACKQuantizer``): int8 per-channel symmetric weights, int8 activations whose
  ranges are calibrated on the component's real inputs;
- ``coreml`` + ``none``: the graph delegated to Core ML (fp16, CPU and Neural Engine, iOS 18).
  Such a ``.pte`` runs only where the Core ML backend is registered (Apple systems).

For ``xnnpack`` the module is first rewritten by ``xnnpack_friendly.make_xnnpack_friendly``
(GroupNorm, channel LayerNorm, attention, GEGLU and nearest upsampling as ops XNNPACK
delegates), so the graph is not split into one delegate per unsupported op.

Calls as in ExecuTorch 1.5.1 (the version pinned in pyproject.toml).
"""

from __future__ import annotations

import platform
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from mobilevid.errors import MobilevidError

QUANTIZE = {"xnnpack": ("none", "w8a8"), "coreml": ("none",)}


def _partitioner(delegate: str) -> list:
    if delegate == "xnnpack":
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

        return [XnnpackPartitioner()]
    import coremltools as ct
    from executorch.backends.apple.coreml.compiler import CoreMLBackend
    from executorch.backends.apple.coreml.partition import CoreMLPartitioner

    specs = CoreMLBackend.generate_compile_specs(compute_unit=ct.ComputeUnit.CPU_AND_NE,
                                                 minimum_deployment_target=ct.target.iOS18,
                                                 compute_precision=ct.precision.FLOAT16)
    return [CoreMLPartitioner(compile_specs=specs)]


def _quantize_pt2e(component, module: torch.nn.Module) -> torch.nn.Module:
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from mobilevid.export.xnnpack_friendly import FLOAT_ONLY_MODULES

    args = tuple(component.example.values())
    graph = torch.export.export(module, args).module()
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    for kind in FLOAT_ONLY_MODULES:  # norm statistics and softmax stay float (see xnnpack_friendly)
        quantizer.set_module_type(kind, None)
    prepared = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for sample in component.samples:  # calibration: observe activation ranges on real inputs
            prepared(*sample.values())
    return convert_pt2e(prepared)


def lower(component, quantize: str, delegate: str):
    """The lowered ExecuTorch program manager (``.buffer`` is the ``.pte``); ``.exported_program()`` for inspection."""
    from executorch.exir import to_edge_transform_and_lower

    args = tuple(component.example.values())
    module = component.module
    if delegate == "xnnpack":
        # Ops XNNPACK does not take (GroupNorm, SDPA's mask handling, ...) would split the graph
        # into many delegates: slow to lower and to run. A copy is rewritten; the model is not.
        from mobilevid.export.xnnpack_friendly import make_xnnpack_friendly

        module = make_xnnpack_friendly(module)
    if quantize == "w8a8":
        module = _quantize_pt2e(component, module)
    program = torch.export.export(module, args)
    return to_edge_transform_and_lower(program, partitioner=_partitioner(delegate))


def delegation_summary(edge) -> dict:
    """How many ops went to the delegate and how many stayed on portable kernels."""
    from executorch.devtools.backend_debug import get_delegation_info

    info = get_delegation_info(edge.exported_program().graph_module)
    return {"delegated_ops": int(info.num_delegated_nodes), "portable_ops": int(info.num_non_delegated_nodes),
            "delegated_subgraphs": int(info.num_delegated_subgraphs)}


def export_executorch(component, quantize: str, out_dir: Path, delegate: str = "xnnpack") -> tuple[list[str], dict]:
    """Write ``<component>.pte``; returns the file names and the delegation summary."""
    try:
        edge = lower(component, quantize, delegate)
    except NotImplementedError as err:  # e.g. coremltools: a partition input with a non-contiguous dim order
        raise MobilevidError(f"ExecuTorch {delegate} delegate cannot lower {component.name}: "
                             f"{str(err).splitlines()[0]}") from err
    summary = delegation_summary(edge)
    path = out_dir / f"{component.name}.pte"
    path.write_bytes(edge.to_executorch().buffer)
    return [path.name], summary


def executorch_runs_here(delegate: str) -> bool:
    """XNNPACK runs everywhere; the Core ML backend only on Apple systems."""
    return delegate == "xnnpack" or platform.system() == "Darwin"


# A flatbuffer's file identifier: bytes 4..8 of a program, "ET" and two letters or digits ("ET12").
_PTE_IDENTIFIER = re.compile(rb"ET[0-9A-Za-z]{2}")


def check_pte_header(path: Path) -> None:
    """One-line error unless ``path`` starts like an ExecuTorch program.

    Why by hand: ExecuTorch 1.5.1 does not raise on a file whose identifier is not ASCII (random
    bytes): logging those bytes throws inside its C++ loader and the process aborts. A file with
    the identifier but a corrupt or truncated body fails its verifier with an exception instead.
    """
    with open(path, "rb") as handle:
        head = handle.read(8)
    if len(head) < 8 or not _PTE_IDENTIFIER.fullmatch(head[4:8]):
        raise MobilevidError(f"{path.name} in {path.parent} is not an ExecuTorch program (no 'ET..' identifier "
                             "at byte 4): re-export the bundle")


def executorch_runner(path: Path) -> Callable[[Sequence[torch.Tensor]], list[torch.Tensor]]:
    """A loaded ``.pte`` as ``run(inputs) -> outputs``; a file the runtime cannot load is a one-line error."""
    from executorch.runtime import Runtime

    path = Path(path)
    if not path.is_file():
        raise MobilevidError(f"missing ExecuTorch program {path.name} in {path.parent}")
    check_pte_header(path)
    try:
        method = Runtime.get().load_program(str(path)).load_method("forward")
    except (RuntimeError, ValueError) as err:
        first = str(err).splitlines()[0] if str(err) else err.__class__.__name__
        raise MobilevidError(f"ExecuTorch cannot load {path.name} in {path.parent} (truncated or corrupt?): "
                             f"{first}") from None

    expected = _input_specs(method.metadata)

    def run(inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        _check_inputs(path, expected, inputs)
        return [torch.as_tensor(o) for o in method.execute([x.contiguous() for x in inputs])]

    return run


# ExecuTorch's scalar-type codes (c10::ScalarType, as MethodMeta's TensorInfo.dtype() reports them).
_SCALAR_TYPES = {0: torch.uint8, 1: torch.int8, 2: torch.int16, 3: torch.int32, 4: torch.int64, 5: torch.float16,
                 6: torch.float32, 7: torch.float64, 11: torch.bool, 15: torch.bfloat16}


def _input_specs(meta) -> list[tuple[tuple[int, ...], torch.dtype | None]]:
    """(shape, dtype) of each input the program was exported with."""
    infos = [meta.input_tensor_meta(i) for i in range(meta.num_inputs())]
    return [(tuple(info.sizes()), _SCALAR_TYPES.get(info.dtype())) for info in infos]


def _check_inputs(path: Path, expected: list[tuple[tuple[int, ...], torch.dtype | None]],
                  inputs: Sequence[torch.Tensor]) -> None:
    """A one-line error for inputs the program cannot take.

    Why by hand: ExecuTorch 1.5.1 answers a wrong count, shape or dtype with a RuntimeError naming
    only an error code (``set_inputs() ... failed with error 0x12``) after logging C++ lines.
    """
    if len(inputs) != len(expected):
        raise MobilevidError(f"{path.name} takes {len(expected)} inputs, got {len(inputs)}: "
                             "not the model the manifest says it is")
    for i, (x, (shape, dtype)) in enumerate(zip(inputs, expected, strict=True)):
        if tuple(x.shape) != shape or (dtype is not None and x.dtype != dtype):
            want = f"{list(shape)} {str(dtype).removeprefix('torch.')}"
            raise MobilevidError(f"{path.name} input {i} must be {want}, got {list(x.shape)} "
                                 f"{str(x.dtype).removeprefix('torch.')}: not the model the manifest says it is")
