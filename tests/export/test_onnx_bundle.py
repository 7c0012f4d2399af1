"""ONNX bundles of the default model: every quantize option passes its gate; the float bundle makes the PyTorch video."""

import json

import pytest
import torch

from mobilevid.cli.main import main
from mobilevid.export.bundle import export_bundle
from mobilevid.export.manifest import read_manifest
from mobilevid.export.parity import psnr


def test_float_bundle_manifest(onnx_bundle, default_pipe):
    m = read_manifest(onnx_bundle)
    assert m.target == "onnx" and m.quantize == "none"
    assert set(m.components) == {"text_encoder", "denoiser", "vae_decoder"}
    for diag in m.diagnostics.components.values():
        assert diag.parity["passed"] and (diag.parity["worst_db"] == "inf" or diag.parity["worst_db"] >= 35)
    den = m.components["denoiser"]
    assert [i.name for i in den.inputs] == ["sample", "timestep", "text_states", "text_mask", "pooled_text"]
    assert m.sampler.sigmas[-1] == 0.0 and len(m.sampler.timesteps) == m.sampler.steps
    assert m.sampler.type == "x0_renoise" and m.sampler.calls_per_step == 1  # the default model is a student
    assert m.noise.shape == den.inputs[0].shape[1:]
    assert m.latent.scaling_factor == default_pipe.vae.config.scaling_factor
    assert (onnx_bundle / "tokenizer" / "vocab.txt").is_file()


def test_float_bundle_generates_the_pytorch_video(onnx_bundle, default_pipe):
    from mobilevid.export.bundle_runtime import BundlePipeline

    prompt = "a green triangle moving left"
    want = default_pipe(prompt, seed=3).frames
    got = BundlePipeline(onnx_bundle)(prompt, seed=3).frames
    assert psnr(want, got) >= 30.0


@pytest.mark.parametrize("quantize", ["int8", "w8a8"])
def test_quantized_bundles_pass_their_gates(quantize, default_pipe, tmp_path):
    m = export_bundle(default_pipe, None, "onnx", quantize, output=tmp_path / quantize,
                      components=("denoiser", "vae_decoder"), progress=False)
    for diag in m.diagnostics.components.values():
        assert diag.parity["passed"]
    fp32 = 4 * sum(p.numel() for p in default_pipe.denoiser.parameters())
    assert m.diagnostics.components["denoiser"].bytes < 0.4 * fp32


def test_cli_generate_from_bundle(onnx_bundle, tmp_path, capsys):
    out = tmp_path / "b.gif"
    assert main(["generate", "a red circle moving right", "--bundle", str(onnx_bundle), "-o", str(out)]) == 0
    assert out.stat().st_size > 0
    other = tmp_path / "c.gif"
    assert main(["generate", "a cat", "--bundle", str(onnx_bundle), "--steps", "4", "-o", str(other)]) == 1
    assert "cannot be used with --bundle" in capsys.readouterr().err
    assert main(["generate", "a cat", "--bundle", str(onnx_bundle), "--runtime", "executorch", "-o", str(other)]) == 1
    assert main(["generate", "a cat", "--bundle", str(onnx_bundle), "-o", str(out)]) == 1  # exists: not replaced
    assert "--overwrite" in capsys.readouterr().err


def test_corrupted_export_fails_the_gate_and_leaves_no_bundle(default_pipe, tmp_path, monkeypatch, capsys):
    import onnx
    from onnx import numpy_helper

    import mobilevid.export.onnx_target as target

    real_export = target.export_onnx

    def export_then_perturb(component, quantize, out_dir):
        files = real_export(component, quantize, out_dir)
        if component.name == "vae_decoder":
            model = onnx.load(str(out_dir / files[0]))
            for init in model.graph.initializer:
                w = numpy_helper.to_array(init)
                if w.ndim == 4:  # conv kernels
                    w = w + 0.05 * torch.randn(w.shape, generator=torch.Generator().manual_seed(0)).numpy()
                    init.CopyFrom(numpy_helper.from_array(w.astype(w.dtype), init.name))
            onnx.save(model, str(out_dir / files[0]))
        return files

    monkeypatch.setattr(target, "export_onnx", export_then_perturb)
    out = tmp_path / "bad"
    assert main(["export", "--target", "onnx", "--components", "vae_decoder", "-o", str(out)]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]  # not progress bars
    assert len(errors) == 1 and "parity gate failed for vae_decoder" in errors[0]
    assert not out.exists() and not any(p.name.startswith(".bad") for p in tmp_path.iterdir())


def test_cli_export_writes_manifest(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["export", "--target", "onnx", "--components", "vae_decoder", "-o", str(out)]) == 0
    assert "vae_decoder" in json.loads((out / "manifest.json").read_text())["components"]
    assert "worst PSNR" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "onnx", "--quantize", "palettize4"], "invalid combination --target onnx --quantize palettize4"),
        (["--target", "coreml", "--quantize", "w8a8"], "valid: --target coreml --quantize none|int8"),
        (["--target", "executorch", "--delegate", "coreml", "--quantize", "w8a8"], "invalid combination"),
        (["--target", "onnx", "--model", "/no/such/model"], "model folder not found"),
        (["--target", "onnx", "--components", "unet"], "unknown component"),
    ],
)
def test_bad_export_requests_are_one_line_errors(args, message, tmp_path, capsys):
    assert main(["export", *args, "-o", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_student_bundle_samples_like_the_student(onnx_bundle, default_pipe, tmp_path):
    # A distilled student re-noises its clean estimate between levels (sampler type x0_renoise):
    # the export records that rule and the bundle runtime follows it to the student's PyTorch video.
    import copy
    import shutil

    from mobilevid.artifacts import write_json
    from mobilevid.export.bundle_runtime import BundlePipeline
    from mobilevid.pipeline import Pipeline

    p = default_pipe
    cfg = copy.deepcopy(p.config)
    cfg.sampling.guidance = 1.0  # as distill writes it: guidance is baked into a student
    student = Pipeline(cfg, p.denoiser, p.vae, p.text_encoder, p.scheduler, fixed_sigmas=[1.0, 0.5])
    m = export_bundle(student, None, "onnx", "none", output=tmp_path / "decoder_only", components=("vae_decoder",),
                      progress=False)
    assert m.sampler.type == "x0_renoise" and m.sampler.sigmas == [1.0, 0.5, 0.0]
    assert m.sampler.guidance_scale == 1.0

    bundle = tmp_path / "student"
    shutil.copytree(onnx_bundle, bundle)  # the same ONNX files; only the sampler differs
    manifest = read_manifest(bundle)
    manifest.sampler = m.sampler
    write_json(bundle / "manifest.json", manifest.to_json())
    prompt = "a blue square moving up"
    want = student(prompt, seed=5).frames
    assert psnr(want, BundlePipeline(bundle)(prompt, seed=5).frames) >= 30.0
    assert psnr(want, default_pipe(prompt, seed=5, num_inference_steps=2, guidance_scale=1.0).frames) < 30.0
