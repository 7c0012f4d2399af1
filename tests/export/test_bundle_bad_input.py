"""Broken bundles through ``generate --bundle`` and ``profile``: one line on stderr, exit 1, no output file."""

import json
import os
import random
import shutil

import pytest
import torch

from mobilevid.cli.main import main
from mobilevid.errors import MobilevidError


def _linked_copy(src, dst):
    """A copy of a bundle whose files are hard links (cheap); a case replaces a file, never writes through it."""
    try:
        shutil.copytree(src, dst, copy_function=os.link)
    except OSError:  # another file system
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)
    return dst


def _noise(n):
    return random.Random(n).randbytes(n)  # fixed bytes: a failure can be replayed


def _replace(path, data):
    path.unlink()
    path.write_bytes(data)


def _edit_manifest(bundle, change):
    manifest = json.loads((bundle / "manifest.json").read_text())
    change(manifest)
    _replace(bundle / "manifest.json", json.dumps(manifest).encode())


CASES = {
    "truncated denoiser": (lambda b: _replace(b / "denoiser.onnx", (b / "denoiser.onnx").read_bytes()[:4096]),
                           "ONNX Runtime cannot load denoiser.onnx"),
    "random-bytes denoiser": (lambda b: _replace(b / "denoiser.onnx", _noise(4096)),
                              "ONNX Runtime cannot load denoiser.onnx"),
    "no tokenizer folder": (lambda b: shutil.rmtree(b / "tokenizer"), "tokenizer"),
    "no components": (lambda b: _edit_manifest(b, lambda m: m.pop("components")),
                      "missing manifest key 'components'"),
    "no sampler sigmas": (lambda b: _edit_manifest(b, lambda m: m["sampler"].pop("sigmas")),
                          "missing manifest key 'sampler.sigmas'"),
    "changed input shape": (lambda b: _edit_manifest(
        b, lambda m: m["components"]["denoiser"]["inputs"][0].__setitem__("shape", [1, 2, 4, 8, 8])),
        "the denoiser's sample input [1, 2, 4, 8, 8] must be"),
    "file outside the bundle": (lambda b: _edit_manifest(
        b, lambda m: m["components"]["denoiser"].__setitem__("files", ["/etc/hostname"])), "points outside the bundle"),
    "file above the bundle": (lambda b: _edit_manifest(
        b, lambda m: m["components"]["vae_decoder"].__setitem__("files", ["../vae_decoder.onnx"])),
        "points outside the bundle"),
    "random-bytes manifest": (lambda b: _replace(b / "manifest.json", _noise(512)), "manifest.json is not valid JSON"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_bundle_is_one_line_for_generate_and_profile(case, onnx_bundle, tmp_path, capsys):
    breaks, message = CASES[case]
    bundle = _linked_copy(onnx_bundle, tmp_path / "bundle")
    breaks(bundle)
    video = tmp_path / "v.gif"
    for command in (["generate", "a red circle", "--bundle", str(bundle), "-o", str(video)],
                    ["profile", "--bundle", str(bundle), "--runs", "1", "--warmup", "0", "--no-blocks"]):
        assert main(command) == 1, command
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.startswith("mobilevid ")]
        assert len(lines) == 1 and "Traceback" not in err and message in lines[0], err
    assert not video.exists()
    assert (onnx_bundle / "manifest.json").is_file() and (onnx_bundle / "tokenizer").is_dir()  # the original


def _tiny_program(path):
    """A real, small ``.pte`` (a linear layer lowered to XNNPACK)."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    program = torch.export.export(torch.nn.Linear(8, 8).eval(), (torch.randn(1, 8),))
    path.write_bytes(to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch().buffer)
    return path


def test_onnx_runner_refuses_empty_and_missing_files_in_one_line(tmp_path):
    from mobilevid.export.onnx_target import onnx_runner

    (tmp_path / "empty.onnx").write_bytes(b"")
    for name, message in (("empty.onnx", "No graph was found"), ("missing.onnx", "File doesn't exist")):
        with pytest.raises(MobilevidError, match=f"ONNX Runtime cannot load {name} .*{message}") as err:
            onnx_runner(tmp_path / name)
        assert "\n" not in str(err.value)


@pytest.mark.slow  # lowering imports ExecuTorch's exporter (~30 s on 2 shared cores)
def test_executorch_runner_refuses_bad_programs_in_one_line(tmp_path):
    from mobilevid.export.executorch_target import executorch_runner

    good = _tiny_program(tmp_path / "good.pte")
    run = executorch_runner(good)
    assert run([torch.ones(1, 8)])[0].shape == (1, 8)
    for inputs, message in (([torch.ones(1, 8)] * 2, "good.pte takes 1 inputs, got 2"),
                            ([torch.ones(2, 8)], r"good.pte input 0 must be \[1, 8\] float32, got \[2, 8\] float32"),
                            ([torch.ones(1, 8, dtype=torch.float64)], "must be .* float32, got .* float64")):
        with pytest.raises(MobilevidError, match=message) as err:
            run(inputs)
        assert "\n" not in str(err.value)
    data = good.read_bytes()
    cases = {"random.pte": (_noise(4096), "is not an ExecuTorch program"),
             "empty.pte": (b"", "is not an ExecuTorch program"),
             "truncated.pte": (data[: len(data) // 2], "ExecuTorch cannot load truncated.pte"),
             "corrupt.pte": (data[:64] + _noise(len(data) - 64), "ExecuTorch cannot load corrupt.pte")}
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(MobilevidError, match=message) as err:
            executorch_runner(tmp_path / name)
        assert "\n" not in str(err.value)
