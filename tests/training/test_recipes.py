"""The recipes that rebuild the shipped models run end to end (tiny step counts), and recipes of phases."""

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from mobilevid.artifacts import read_json
from mobilevid.cli.main import main
from mobilevid.config import from_dict, to_dict
from mobilevid.models.presets import ModelConfig
from mobilevid.pipeline import BUILTIN_MODELS, Pipeline

ROOT = Path(__file__).resolve().parents[2]
TEACHER = ROOT / "mobilevid" / "recipes" / "teacher.yaml"
STUDENT = ROOT / "distill" / "recipes" / "student.yaml"


def _architecture(model_dir: Path) -> dict:
    """A model's config minus what training measures or the test shrinks (frames, the VAE's latent scale)."""
    index = to_dict(from_dict(ModelConfig, read_json(model_dir / "model_index.json")))
    for cfg in (index, index["denoiser"]):
        cfg.pop("num_frames")
    index["vae"].pop("scaling_factor")
    index.pop("trained_for", None)  # what the run saw (data, frame strides), not the architecture
    return index


@pytest.mark.slow
def test_teacher_recipe_rebuilds_the_shipped_teachers_architecture(tmp_path):
    out = tmp_path / "teacher"
    assert main(["train", "--recipe", str(TEACHER), "--output", str(out), "--max-steps", "1",
                 "--set", "num_frames=4", "--set", "mixed_precision=no", "--set", "layout.clips=8",
                 "--set", "layout.batch_size=4", "--set", "vae.batch_size=2", "--set", "vae_decoder.batch_size=2",
                 "--set", "denoiser.batch_size=1", "--set", "denoiser.image_ratio=0"]) == 0
    names = ["base", "light_decoder", "text_position", "layout"]
    assert sorted(p.name for p in (out / "phases").iterdir()) == sorted(names)
    for before, name in zip(names, names[1:], strict=False):
        run = read_json(out / "phases" / name / "run.json")
        assert run["config"]["init_from"] == str(out / "phases" / before / "model")  # each from the one before
    assert _architecture(out / "model") == _architecture(BUILTIN_MODELS["teacher"])
    assert read_json(out / "model" / "scheduler" / "scheduler_config.json")["shift"] == 3.0
    assert read_json(out / "run.json")["config"]["phases"][3]["config"]["denoiser"]["steps"] == 1  # --max-steps
    video = Pipeline.from_pretrained(out / "model")("a red circle moving right", num_inference_steps=1).frames
    assert video.shape == (1, 4, 3, 64, 64) and torch.isfinite(video).all()


def _student_cmd(teacher, out, *extra):
    return ["distill", "--teacher", str(teacher), "--recipe", str(STUDENT), "--output", str(out), "--max-steps", "2",
            "--set", "teacher_steps=2", "--set", "batch_size=1", "--set", "checkpoint_every=1",
            "--set", "image_ratio=0", *extra]


@pytest.mark.slow
def test_student_recipe_runs_both_phases_and_resumes_exactly(tiny_model_dir, tmp_path):
    out = tmp_path / "student"
    assert main(_student_cmd(tiny_model_dir, out)) == 0
    polish = read_json(out / "phases" / "polish" / "run.json")["config"]
    assert polish["student_init"] == str(out / "phases" / "distill" / "model") and polish["adv_weight"] == 0.2
    assert read_json(out / "phases" / "distill" / "run.json")["config"]["data"] == "shapes+digits"
    pipe = Pipeline.from_pretrained(out / "model")
    assert pipe.fixed_sigmas == [1.0, 0.75, 0.5, 0.25] and pipe.config.sampling.steps == 4
    first = load_file(out / "model" / "denoiser" / "model.safetensors")
    distilled = load_file(out / "phases" / "distill" / "model" / "denoiser" / "model.safetensors")
    assert any(not torch.equal(first[k], distilled[k]) for k in first)  # the polish phase trained

    # A run killed in the polish phase after its first checkpoint continues exactly with --resume.
    shutil.rmtree(out / "model")
    shutil.rmtree(out / "phases" / "polish" / "model")
    shutil.rmtree(out / "phases" / "polish" / "stages" / "distill" / "checkpoints" / "step-0000002")
    assert main(_student_cmd(tiny_model_dir, out, "--resume")) == 0
    again = load_file(out / "model" / "denoiser" / "model.safetensors")
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert main(_student_cmd(tiny_model_dir, out)) == 1  # not empty: without --resume it is refused


def test_bad_phase_recipes_are_one_line_errors(tmp_path, capsys):
    def run(text, *extra):
        recipe = tmp_path / "r.yaml"
        recipe.write_text(text)
        assert main(["train", "--recipe", str(recipe), "--output", str(tmp_path / "o"), *extra]) == 1
        return capsys.readouterr().err

    assert "holds only 'phases'" in run("seed: 1\nphases: [{name: a}]\n")
    assert "used twice" in run("phases: [{name: a}, {name: a}]\n")
    assert "unknown key 'steps'" in run("phases: [{name: a, steps: 3}]\n")
    assert "must be a non-empty list" in run("phases: []\n")
    assert "recipe not found" in run("phases: [{name: a, recipe: nope.yaml}]\n")
    assert "phase 'a': unknown config key 'denoiser.stepz'" in run("phases: [{name: a, set: [denoiser.stepz=3]}]\n")
    assert "writes no model" in run("phases: [{name: a, set: ['stages=[layout]']}]\n")
    assert "--stage picks a stage" in run("phases: [{name: a}]\n", "--stage", "vae")
    assert not (tmp_path / "o").exists()
