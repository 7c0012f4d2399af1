"""The per-frame layout map (FrameLayoutEmbedding) exports to ONNX and ExecuTorch with the same numbers, and
converts to Core ML: the built-in default denoiser does not carry it, so its own bundle tests cannot tell."""

from collections import OrderedDict

import torch
from torch import nn

from mobilevid.export.components import Component
from mobilevid.export.coreml_target import convert_coreml
from mobilevid.export.executorch_target import executorch_runner, export_executorch
from mobilevid.export.onnx_target import export_onnx, onnx_runner
from mobilevid.models.conditioning import FrameLayoutEmbedding


class _Layout(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layout = FrameLayoutEmbedding(text_dim=48, out_channels=16, grid=4)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.layout(states, mask, 4, 8, 8)


def _component() -> Component:
    module = _Layout().eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=gen))
    sample = OrderedDict(states=torch.randn(1, 6, 48, generator=gen), mask=torch.tensor([[1.0] * 4 + [0.0] * 2]))
    return Component("layout", module, [sample], ("layout_map",))


def test_layout_map_runs_the_same_in_onnx_runtime_and_executorch(tmp_path):
    component = _component()
    want = component.reference(component.example)[0]
    inputs = list(component.example.values())
    (tmp_path / "onnx").mkdir()
    onnx_file = export_onnx(component, "none", tmp_path / "onnx")[0]
    got = onnx_runner(tmp_path / "onnx" / onnx_file)(inputs)[0]
    assert torch.allclose(got, want, atol=1e-4 * float(want.abs().max()))
    (tmp_path / "et").mkdir()
    pte, summary = export_executorch(component, "none", tmp_path / "et")
    got = executorch_runner(tmp_path / "et" / pte[0])(inputs)[0]
    assert torch.allclose(got, want, atol=1e-4 * float(want.abs().max()))
    assert summary["delegated_ops"] > 0


def test_layout_map_converts_to_core_ml():
    spec = convert_coreml(_component()).get_spec()
    assert [o.name for o in spec.description.output] == ["layout_map"]
