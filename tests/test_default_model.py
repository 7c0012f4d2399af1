"""The built-in models ship inside the package: the 4-step student is the default, the teacher stays by name."""

import json

import pytest
import torch

from mobilevid.cli.main import main
from mobilevid.errors import MobilevidError
from mobilevid.pipeline import BUILTIN_MODELS, DEFAULT_MODEL_DIR, Pipeline, resolve_model_dir


def test_builtin_models_ship_small_and_load():
    assert resolve_model_dir(None) == DEFAULT_MODEL_DIR == resolve_model_dir("default")
    assert resolve_model_dir("teacher") == BUILTIN_MODELS["teacher"]
    size = sum(p.stat().st_size for d in BUILTIN_MODELS.values() for p in d.rglob("*") if p.is_file())
    assert size <= 64 * 2**20  # all built-in models together (issue 25: at most 64 MB)
    for name in BUILTIN_MODELS:
        pipe = Pipeline.from_pretrained(name)
        assert pipe.config.preset == "tiny" and pipe.config.num_frames == 16
        assert pipe.vae.config.scaling_factor != 1.0  # a trained VAE: latents were measured and scaled


def test_default_is_the_distilled_student_and_teacher_is_not():
    student, teacher = Pipeline.from_pretrained(None), Pipeline.from_pretrained("teacher")
    assert student.fixed_sigmas is not None and len(student.fixed_sigmas) == student.config.sampling.steps == 4
    assert student.config.sampling.guidance == 1.0 and student.samples_as_student()
    assert teacher.fixed_sigmas is None and teacher.config.sampling.guidance > 1.0
    sched = json.loads((DEFAULT_MODEL_DIR / "scheduler" / "scheduler_config.json").read_text())
    assert sched["sigmas"] == student.fixed_sigmas


def test_unknown_model_name_is_a_one_line_error():
    with pytest.raises(MobilevidError, match="built-in models: default, teacher"):
        resolve_model_dir("teachr")


def test_generate_uses_the_default_model(tmp_path, capsys):
    out = tmp_path / "demo.gif"
    assert main(["generate", "a red circle moving right", "--frames", "4", "-o", str(out)]) == 0
    assert out.stat().st_size > 0
    assert "4 model evaluations each" in capsys.readouterr().out  # 4 student steps, no guidance


def test_default_is_the_pruned_student_on_its_teachers_latent_space():
    from safetensors.torch import load_file

    student, teacher = (load_file(str(BUILTIN_MODELS[n] / "vae" / "model.safetensors")) for n in ("default", "teacher"))
    # prune/recipes/vae_decoder_075.yaml cuts the decoder only: the encoder, so the latent space the
    # denoiser works in, is the teacher's light VAE's, bit for bit.
    encoder = [k for k in teacher if k.startswith(("vae.encoder.", "vae.quant_conv."))]
    assert encoder and all(torch.equal(student[k], teacher[k]) for k in encoder)
    pipe, light = Pipeline.from_pretrained(None), Pipeline.from_pretrained("teacher")
    assert light.vae.config.decoder_block_out_channels == (16, 32, 64)  # recipes/light_decoder.yaml
    assert pipe.vae.config.decoder_block_out_channels == (4, 8, 16)  # a quarter of its channels left
    # prune/recipes/student.yaml: an eighth of the denoiser's channels, in whole norm groups
    assert light.denoiser.config.block_out_channels == (32, 64, 96)
    assert pipe.denoiser.config.block_out_channels == (28, 56, 84) and pipe.denoiser.config.norm_num_groups == 14
    record = json.loads((DEFAULT_MODEL_DIR / "pruned_from.json").read_text())
    assert (record["component"], record["ratio"], record["recovery_steps"]) == ("denoiser", 0.125, 1500)
