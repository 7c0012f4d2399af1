"""Bad input through the CLI: one line on stderr, exit 1, before any heavy work, and nothing of the user's lost.

Most cases pass a model, teacher or bundle that does not exist: the error they expect must come
first, which shows the check runs before anything is loaded.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch

from mobilevid.cli.main import main

NO_MODEL = "/no/such/model"


def _fails(args, message, capsys):
    assert main([str(a) for a in args]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and "%|" not in line]  # minus progress bars
    assert len(lines) == 1 and "Traceback" not in err, err
    assert message in lines[0], err
    return lines[0]


@pytest.fixture
def read_only(tmp_path):
    """A folder this process cannot create files in."""
    if os.geteuid() != 0:
        folder = tmp_path / "read_only"
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    # Root writes into any folder on disk; sysfs refuses new files even to root.
    try:
        with tempfile.TemporaryFile(dir="/sys"):
            pytest.skip("no read-only folder for root here")
    except OSError:
        yield Path("/sys")


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _user_folder(path):
    path.mkdir(parents=True)
    (path / "notes.txt").write_text("the user's")
    return path


# -- generate: videos and grid --------------------------------------------------------------------

GENERATE_PATHS = [
    # (files and folders to make, arguments, expected message)
    ({"dirs": ["v.mp4"]}, ["-o", "v.mp4"], "video v.mp4 is a folder: give a file name"),
    ({"files": ["v.mp4"]}, ["-o", "v.mp4"], "video v.mp4 already exists: pass --overwrite"),
    ({"files": ["v_1.gif"]}, ["b", "-o", "v.gif"], "video v_1.gif already exists"),
    ({"files": ["f.txt"]}, ["-o", "f.txt/v.mp4"], "f.txt is a file, not a folder"),
    ({"dirs": ["g.png"]}, ["-o", "v.mp4", "--grid", "g.png"], "grid g.png is a folder"),
    ({"files": ["g.png"]}, ["-o", "v.mp4", "--grid", "g.png"], "grid g.png already exists"),
    ({"dirs": ["g.png"]}, ["-o", "v.mp4", "--grid", "g.png", "--overwrite"], "grid g.png is a folder"),
    ({}, ["-o", "v.mp4", "--grid", "g.jpg"], "its name must end in .png"),
    ({}, ["-o", "v.mp4", "--seed", str(2**63)], "seed must be an integer in [0, 9223372036854775807]"),
    ({}, ["-o", "v.mp4", "--seed", "-1"], "seed must be an integer"),
    ({}, ["b", "-o", "v.mp4", "--seed", str(2**63 - 1)], "in [0, 9223372036854775806] for 2 prompt(s)"),
]


@pytest.mark.parametrize(("setup", "args", "message"), GENERATE_PATHS)
def test_generate_refuses_bad_outputs_before_loading(setup, args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for d in setup.get("dirs", []):
        Path(d).mkdir()
    for f in setup.get("files", []):
        Path(f).write_text("the user's")
    before = _snapshot(tmp_path)
    _fails(["generate", "a", *args, "--model", NO_MODEL], message, capsys)
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("where", ["v.mp4", "new/sub/v.mp4"])
def test_generate_in_a_read_only_folder_fails_up_front(where, read_only, capsys):
    _fails(["generate", "a", "-o", read_only / where, "--model", NO_MODEL], "is not writable", capsys)
    _fails(["generate", "a", "-o", "/tmp/unused.mp4", "--grid", read_only / "g.png", "--model", NO_MODEL],
           "is not writable", capsys)


def test_generate_creates_missing_folders_and_replaces_only_with_overwrite(tiny_model_dir, tmp_path, capsys):
    video, grid = tmp_path / "a" / "b" / "v.gif", tmp_path / "c" / "g.png"
    args = ["generate", "a red circle", "--model", tiny_model_dir, "--steps", "1", "-o", video, "--grid", grid]
    assert main([str(a) for a in args]) == 0
    assert video.stat().st_size > 0 and grid.stat().st_size > 0
    before = _snapshot(tmp_path)
    capsys.readouterr()
    _fails(args, "already exists: pass --overwrite", capsys)
    assert _snapshot(tmp_path) == before
    assert main([str(a) for a in [*args, "--overwrite", "--seed", "3"]]) == 0
    assert _snapshot(tmp_path).keys() == before.keys() and _snapshot(tmp_path) != before


@pytest.mark.parametrize("sigmas", ["abc", [1.0, "x"], [0.5, 0.9], [], [1.0, float("nan")], {"a": 1}])
def test_a_scheduler_config_with_bad_sigmas_is_one_line(sigmas, tiny_model_dir, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    path = model / "scheduler" / "scheduler_config.json"
    config = json.loads(path.read_text())
    config["sigmas"] = sigmas
    path.write_text(json.dumps(config))
    _fails(["generate", "a", "--model", model, "-o", tmp_path / "v.gif"], "'sigmas' must be a list of noise levels",
           capsys)
    assert not (tmp_path / "v.gif").exists()


@pytest.mark.parametrize("guidance", ["nan", "inf", "-inf"])
def test_a_non_finite_guidance_stops_without_a_video(guidance, tiny_model_dir, tmp_path, capsys):
    _fails(["generate", "a", "--model", tiny_model_dir, f"--guidance={guidance}", "-o", tmp_path / "v.gif"],
           "guidance scale must be a finite number", capsys)
    assert not (tmp_path / "v.gif").exists()


@pytest.mark.parametrize(
    ("part", "tensor", "where"),
    [("denoiser", "conv_in.weight", "in the denoiser output at step 1"),
     ("vae", "vae.decoder.conv_in.weight", "in the VAE decoder output")],
)
def test_a_model_with_nan_weights_stops_naming_where(part, tensor, where, tiny_model_dir, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    weights = model / part / "model.safetensors"
    tensors = load_file(weights)
    tensors[tensor] = torch.full_like(tensors[tensor], float("nan"))
    save_file(tensors, weights)
    _fails(["generate", "a", "--model", model, "--steps", "1", "-o", tmp_path / "v.gif"],
           f"non-finite values (NaN or Inf) {where}", capsys)
    assert not (tmp_path / "v.gif").exists()
    component = "denoiser" if part == "denoiser" else "vae_decoder"
    _fails(["export", "--target", "onnx", "--model", model, "-o", tmp_path / "bundle"],
           f"non-finite values (NaN or Inf) in the {component}'s weight {tensor}", capsys)
    assert not (tmp_path / "bundle").exists()


# -- export and inflate: folders of a kind ----------------------------------------------------------

@pytest.mark.parametrize(
    ("command", "marker", "kind"),
    [
        (["export", "--target", "onnx", "--model", NO_MODEL], "manifest.json", "bundle"),
        (["inflate", "--image-unet", "{unet}"], "model_index.json", "model folder"),
    ],
)
def test_folder_outputs_replace_only_an_earlier_output_of_their_kind(command, marker, kind, tmp_path, capsys):
    (tmp_path / "unet").mkdir()
    command = [c.replace("{unet}", str(tmp_path / "unet")) for c in command]
    user = _user_folder(tmp_path / "user")
    other = tmp_path / "other_kind"
    other.mkdir()
    (other / ("model_index.json" if marker == "manifest.json" else "manifest.json")).write_text("{}")
    (tmp_path / "file").write_text("the user's")
    before = _snapshot(tmp_path)
    for flags in ([], ["--overwrite"]):
        _fails([*command, "-o", user, *flags], f"exists and is not a {kind} (no {marker})", capsys)
        _fails([*command, "-o", other, *flags], f"exists and is not a {kind}", capsys)
        _fails([*command, "-o", tmp_path / "file", *flags], f"is a file, not a {kind} folder", capsys)
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / marker).write_text("{}")
    _fails([*command, "-o", earlier], f"{kind} {earlier} already exists: pass --overwrite", capsys)
    assert _snapshot(tmp_path) == {**before, f"earlier/{marker}": b"{}"}


def test_export_overwrite_passes_the_check_for_an_earlier_bundle(tmp_path, capsys):
    earlier = tmp_path / "bundle"
    earlier.mkdir()
    (earlier / "manifest.json").write_text("{}")
    # The output check passes; the missing model is the next error, and the earlier bundle is untouched.
    _fails(["export", "--target", "onnx", "--model", NO_MODEL, "-o", earlier, "--overwrite"], "model folder not found",
           capsys)
    assert (earlier / "manifest.json").read_text() == "{}"


def test_export_into_a_read_only_folder_fails_up_front(read_only, capsys):
    _fails(["export", "--target", "onnx", "--model", NO_MODEL, "-o", read_only / "bundle"], "is not writable", capsys)


# -- --json outputs ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "command",
    [
        ["eval", "--suite", "shapes", "--prompts", "2", "--model", NO_MODEL],
        ["profile", "--bundle", "/no/such/bundle"],
        ["info", "--preset", "tiny"],
    ],
)
def test_json_outputs_are_checked_first_and_replaced_only_with_overwrite(command, tmp_path, read_only, capsys):
    (tmp_path / "taken.json").write_text("the user's")
    (tmp_path / "folder.json").mkdir()
    _fails([*command, "--json", tmp_path / "taken.json"], "already exists: pass --overwrite", capsys)
    _fails([*command, "--json", tmp_path / "folder.json", "--overwrite"], "is a folder: give a file name", capsys)
    _fails([*command, "--json", read_only / "new" / "m.json"], "is not writable", capsys)
    assert (tmp_path / "taken.json").read_text() == "the user's"


def test_info_json_with_overwrite_replaces_the_file(tmp_path, capsys):
    (tmp_path / "info.json").write_text("old")
    assert main(["info", "--preset", "tiny", "--json", str(tmp_path / "info.json"), "--overwrite"]) == 0
    assert json.loads((tmp_path / "info.json").read_text())["total_params"] > 0


def test_eval_seed_must_leave_room_for_every_prompt(capsys):
    _fails(["eval", "--suite", "shapes", "--prompts", "4", "--seed", str(2**63 - 2), "--model", NO_MODEL],
           "for 4 prompt(s)", capsys)


# -- train and distill: run folders, configs, seeds, recipes ----------------------------------------

def _run_folder(path, kind):
    path.mkdir(parents=True)
    (path / "run.json").write_text(json.dumps({"kind": kind, "command": f"mobilevid {kind}", "config": {}}))
    (path / "vae").mkdir()
    (path / "vae" / "config.json").write_text("{}")
    return path


TRAIN = ["train", "--preset", "tiny", "--data", "shapes"]
DISTILL = ["distill", "--teacher", NO_MODEL]


@pytest.mark.parametrize(
    ("command", "kind", "other"),
    [(TRAIN, "train", "distill"), (DISTILL, "distill", "train")],
)
def test_run_folders_are_checked_before_any_work(command, kind, other, tmp_path, read_only, capsys):
    user = _user_folder(tmp_path / "user")
    (tmp_path / "file").write_text("the user's")
    mine, theirs = _run_folder(tmp_path / "mine", kind), _run_folder(tmp_path / "theirs", other)
    before = _snapshot(tmp_path)
    _fails([*command, "-o", tmp_path / "file"], "is a file, not a run folder", capsys)
    for flags in ([], ["--overwrite"], ["--resume"]):
        _fails([*command, "-o", user, *flags], "is not a run folder (no run.json)", capsys)
        _fails([*command, "-o", theirs, *flags], f"is the run folder of `mobilevid {other}`", capsys)
    _fails([*command, "-o", mine], "is not empty: pass --resume to continue it, --overwrite to replace it", capsys)
    _fails([*command, "-o", mine, "--resume", "--overwrite"], "pass one of them", capsys)
    _fails([*command, "-o", read_only / "run"], "is not writable", capsys)
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        (TRAIN, ["--set", "denoiser.lr=-3e-4"], "'denoiser.lr': must be positive"),
        (TRAIN, ["--set", "vae.lr=.nan"], "'vae.lr': expected a finite number, got nan"),
        (TRAIN, ["--set", "data_strides=[1,0]"], "'data_strides[1]'"),
        (TRAIN, ["--seed", str(2**63)], "'seed': must be >= 0 and <= 9223372036854775807"),
        (TRAIN, ["--seed", "-1"], "'seed': must be >= 0"),
        (TRAIN, ["--recipe", "{random}"], "is not a YAML text file"),
        (DISTILL, ["--set", "lr_student=-1"], "'lr_student': must be positive"),
        (DISTILL, ["--set", "lr_heads=.nan"], "'lr_heads': expected a finite number"),
        (DISTILL, ["--set", f"seed={2**64}"], "'seed': must be >= 0"),
        (DISTILL, ["--recipe", "{random}"], "is not a YAML text file"),
    ],
)
def test_bad_run_settings_fail_before_the_run_starts(command, args, message, tmp_path, capsys):
    random_recipe = tmp_path / "recipe.yaml"
    random_recipe.write_bytes(bytes(range(256)) * 8)
    args = [a.replace("{random}", str(random_recipe)) for a in args]
    _fails([*command, "-o", tmp_path / "run", *args], message, capsys)
    assert not (tmp_path / "run").exists()


FAILING_VAE_RUN = [*TRAIN, "--stage", "vae", "--max-steps", "4", "--set", "vae.batch_size=2",
                   "--set", "vae.lr=1e30"]  # the loss is NaN at the second step, before any checkpoint


def test_a_distill_run_that_fails_before_its_first_checkpoint_removes_what_it_wrote(tiny_model_dir, tmp_path,
                                                                                    capsys):
    _fails(["distill", "--teacher", tiny_model_dir, "-o", tmp_path / "run", "--data", "shapes", "--max-steps", "3",
            "--set", "lr_student=1e30", "--set", "lr_heads=1e30", "--set", "batch_size=1", "--set", "teacher_steps=2"],
           "loss is nan", capsys)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_run_that_fails_before_its_first_checkpoint_removes_what_it_wrote(tmp_path, capsys):
    _fails([*FAILING_VAE_RUN, "-o", tmp_path / "run"], "loss is nan", capsys)
    assert not (tmp_path / "run").exists()
    (tmp_path / "empty").mkdir()  # the user's folder: emptied of the run's files, kept
    _fails([*FAILING_VAE_RUN, "-o", tmp_path / "empty"], "loss is nan", capsys)
    assert (tmp_path / "empty").is_dir() and not any((tmp_path / "empty").iterdir())
    earlier = _run_folder(tmp_path / "earlier", "train")  # --overwrite: the earlier run comes back
    before = _snapshot(earlier)
    _fails([*FAILING_VAE_RUN, "-o", earlier, "--overwrite"], "loss is nan", capsys)
    assert _snapshot(earlier) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier", "empty"]
    # The corrected command runs without --resume, and --overwrite replaces the earlier run.
    ok = [*TRAIN, "--stage", "vae", "--max-steps", "1", "--set", "vae.batch_size=2"]
    assert main([str(a) for a in [*ok, "-o", tmp_path / "run"]]) == 0
    assert main([str(a) for a in [*ok, "-o", earlier, "--overwrite"]]) == 0
    assert json.loads((earlier / "run.json").read_text())["kind"] == "train"
    assert (earlier / "vae" / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier", "empty", "run"]
