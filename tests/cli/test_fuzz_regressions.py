"""Regressions found by benchmarks/fuzz_cli.py: each bad input gets one line on stderr and exit 1.

Each test is one case of the fuzz set that once printed a traceback, exited 0 with a bad result or
glued its message to a progress bar; the case's name in the fuzz set is in the test's docstring.
"""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from mobilevid.cli.main import main

NO_MODEL = "/no/such/model"


def _one_line_error(args, capsys, message):
    assert main([str(a) for a in args]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.replace("\r", "\n").split("\n") if ": error:" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("mobilevid "), err  # on a line of its own, not after a progress bar
    assert message in lines[0], err
    return lines[0]


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path):
    return shutil.copytree(tiny_model_dir, tmp_path / "model")


def test_prompt_not_utf8(tmp_path, capsys):
    """generate_non_utf8_prompt: bytes of another encoding on the command line reach Python as surrogates."""
    _one_line_error(["generate", "a \udcff circle", "--model", NO_MODEL, "-o", tmp_path / "o.mp4"], capsys,
                    "is not UTF-8 text")
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("command", [["generate", "a red circle", "-o", "{tmp}/o.mp4"],
                                     ["eval", "--suite", "shapes", "--prompts", "2"]])
def test_steps_above_int64(command, tmp_path, capsys):
    """generate_steps_above_int64: a schedule of 10**20 steps cannot be built; refused before the model loads."""
    args = [a.replace("{tmp}", str(tmp_path)) for a in command] + ["--model", NO_MODEL, "--steps", str(10**20)]
    _one_line_error(args, capsys, "--steps must be between 1 and 10000")


def test_prune_output_is_a_file(tiny_model_dir, tmp_path, capsys):
    """prune_output_existing_file: the user's file is neither listed as a folder nor replaced."""
    out = tmp_path / "run"
    out.write_text("mine")
    _one_line_error(["prune", "--model", tiny_model_dir, "-o", out], capsys, "is a file, not a run folder")
    assert out.read_text() == "mine"


def test_inflate_config_that_does_not_fit(tmp_path, capsys):
    """inflate_unet_random_weights: a UNet config whose lists do not match its blocks."""
    unet = tmp_path / "unet"
    unet.mkdir()
    (unet / "config.json").write_text(json.dumps({"_class_name": "UNet2DConditionModel",
                                                  "block_out_channels": [32, 64], "cross_attention_dim": 384}))
    _one_line_error(["inflate", "--image-unet", unet, "-o", tmp_path / "out"], capsys,
                    "unsupported image UNet config")
    assert not (tmp_path / "out").exists()


def test_arch_spec_of_random_bytes(tmp_path, capsys):
    """inflate_arch_random_bytes."""
    (tmp_path / "unet").mkdir()
    (tmp_path / "arch.json").write_bytes(b"\x83\xff\x00 not json")
    _one_line_error(["inflate", "--image-unet", tmp_path / "unet", "--arch", tmp_path / "arch.json",
                     "-o", tmp_path / "out"], capsys, "is not valid JSON")


def test_prompt_schedule_of_random_bytes(tmp_path, capsys):
    """generate_prompt_schedule_random."""
    (tmp_path / "s.json").write_bytes(b"{\"0\": \"\x9d\xff\"}")
    _one_line_error(["generate", "a red circle", "--model", NO_MODEL, "--prompt-schedule", tmp_path / "s.json",
                     "-o", tmp_path / "o.mp4"], capsys, "is not UTF-8 text")


def test_scheduler_shift_not_positive(model_copy, tmp_path, capsys):
    """model_scheduler_shift_negative: a negative shift maps the levels outside [0, 1] and still made a video."""
    path = model_copy / "scheduler" / "scheduler_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "shift": -3.0}))
    _one_line_error(["generate", "a red circle", "--model", model_copy, "-o", tmp_path / "o.mp4"], capsys,
                    "'shift' must be a positive number")
    assert not (tmp_path / "o.mp4").exists()


def test_error_during_sampling_starts_its_own_line(model_copy, tmp_path, capsys):
    """generate_nan_model: the NaN error used to follow the open progress bar on the same line."""
    weights = model_copy / "denoiser" / "model.safetensors"
    save_file({k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
               for k, v in load_file(weights).items()}, weights)
    _one_line_error(["generate", "a red circle", "--model", model_copy, "-o", tmp_path / "o.mp4"], capsys,
                    "non-finite values")
    assert not (tmp_path / "o.mp4").exists()


def test_supernet_seed_above_2_63(tiny_model_dir, tmp_path, capsys):
    """search_supernet_seed_above_2_63: trained with a seed torch's generator cannot take, and exited 0."""
    _one_line_error(["search", "supernet", "--model", tiny_model_dir, "--max-steps", "1", "--seed", str(2**63 + 5),
                     "-o", tmp_path / "run"], capsys, "seed")
    assert not (tmp_path / "run").exists()


def test_supernet_output_is_a_file(tiny_model_dir, tmp_path, capsys):
    """search_supernet_output_file."""
    out = tmp_path / "run"
    out.write_text("mine")
    _one_line_error(["search", "supernet", "--model", tiny_model_dir, "--max-steps", "1", "-o", out], capsys,
                    "is a file, not a run folder")
    assert out.read_text() == "mine"


def test_cost_table_output_is_a_folder(tiny_model_dir, tmp_path, capsys):
    """search_lut_output_folder: with --overwrite a folder passed the check, and the table was measured for
    minutes before its write failed."""
    folder = tmp_path / "table.json"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    _one_line_error(["search", "lut", "--model", tiny_model_dir, "--runtime", "onnxruntime", "-o", folder,
                     "--overwrite"], capsys, "is a folder")
    assert (folder / "notes.txt").read_text() == "mine"


def test_onnx_file_of_another_component(tmp_path):
    """bundle_components_swapped: a manifest naming a file whose graph takes other inputs."""
    import onnx
    from onnx import TensorProto, helper

    from mobilevid.errors import MobilevidError
    from mobilevid.export.onnx_target import onnx_runner

    spec = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in ("a", "b", "y")]
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"])], "add", spec[:2], spec[2:])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "add.onnx")
    run = onnx_runner(tmp_path / "add.onnx")
    assert run([torch.ones(2), torch.ones(2)])[0].tolist() == [2.0, 2.0]
    with pytest.raises(MobilevidError, match="takes 2 inputs"):
        run([torch.ones(2)])


@pytest.mark.parametrize(("prompt", "message"), [("", "empty prompt"), ("a \udcff circle", "is not UTF-8 text")])
def test_golden_prompt(prompt, message, tmp_path, capsys):
    """golden_empty_prompt (an empty --prompt silently became the default one), golden_non_utf8_prompt."""
    _one_line_error(["golden", "--bundle", tmp_path / "no_bundle", "--prompt", prompt, "-o", tmp_path / "g"], capsys,
                    message)
    assert not (tmp_path / "g").exists()


@pytest.mark.parametrize(("command", "key", "message"), [
    (["train"], "denoiser.batch_size=0", "must be >= 1"),  # failed only after the VAE stages had trained
    (["train"], "denoiser.caption_dropout=3", "must be >= 0 and <= 1"),  # trained, exit 0
    (["distill", "--teacher", NO_MODEL], "batch_size=0", "must be >= 1"),
    (["distill", "--teacher", NO_MODEL], "image_ratio=-0.5", "must be >= 0 and <= 1"),
])
def test_config_bounds(command, key, message, tmp_path, capsys):
    """train_batch_size_zero, train_caption_dropout_above_one: refused before any work, no run folder left."""
    _one_line_error([*command, "-o", tmp_path / "run", "--max-steps", "1", "--set", key], capsys, message)
    assert not (tmp_path / "run").exists()
