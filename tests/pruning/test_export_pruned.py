"""A pruned denoiser and a pruned VAE decoder export to ExecuTorch (XNNPACK fp32) and pass the parity gate."""

import pytest

from mobilevid.export.bundle import export_bundle

pytestmark = pytest.mark.slow  # lowering to XNNPACK takes a minute or more per component on 2 cores


@pytest.mark.parametrize("component", ["denoiser", "vae_decoder"])
def test_pruned_component_lowers_to_xnnpack_and_passes_parity(pruned_tiny_dirs, tmp_path, component):
    from mobilevid.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(pruned_tiny_dirs[component])
    m = export_bundle(pipe, None, "executorch", "none", output=tmp_path / "et", components=(component,),
                      progress=False)
    diag = m.diagnostics.components[component]
    assert diag.parity["passed"] and diag.delegation["delegated_ops"] > 0
