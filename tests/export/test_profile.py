"""``mobilevid profile``: JSON fields, the per-video total, the torch-eager block breakdown, device import, bad input."""

import json
from pathlib import Path

import pytest
import torch

from mobilevid.cli.main import main
from mobilevid.export.profiling import SCHEMA, denoiser_breakdown, validate_profile, video_total


def _fake_bundle(path, target="coreml", delegate=None):
    """A bundle folder with a valid manifest and empty component files (enough for the checks made before any work)."""
    template = Path(__file__).with_name("fake_manifest.json")
    manifest = json.loads(template.read_text())
    manifest.update(target=target, delegate=delegate)
    path.mkdir()
    for comp in manifest["components"].values():
        for f in comp["files"]:
            (path / f).parent.mkdir(parents=True, exist_ok=True)
            (path / f).write_bytes(b"")
    for f in manifest["tokenizer"]["files"]:
        (path / f).parent.mkdir(parents=True, exist_ok=True)
        (path / f).write_bytes(b"")
    (path / "manifest.json").write_text(json.dumps(manifest))
    return path


# -- fast: bad input, formula, schema, breakdown ------------------------------------------------------
def test_missing_bundle_is_one_line_error(tmp_path, capsys):
    assert main(["profile", "--bundle", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err.strip()
    assert "bundle folder not found" in err and "\n" not in err


def test_coreml_bundle_with_onnxruntime_is_one_line_error(tmp_path, capsys):
    bundle = _fake_bundle(tmp_path / "cm")
    assert main(["profile", "--bundle", str(bundle), "--runtime", "onnxruntime"]) == 1
    err = capsys.readouterr().err.strip()
    assert "runs only on Apple systems" in err and "\n" not in err


def test_zero_runs_is_one_line_error(tmp_path, capsys):
    bundle = _fake_bundle(tmp_path / "onnx", target="onnx")
    assert main(["profile", "--bundle", str(bundle), "--runs", "0"]) == 1
    err = capsys.readouterr().err.strip()
    assert "--runs must be at least 1" in err and "\n" not in err
    assert main(["profile", "--bundle", str(bundle), "--warmup", "-1"]) == 1
    assert "--warmup" in capsys.readouterr().err


def test_wrong_device_json_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "device.json"
    bad.write_text(json.dumps({"schema": "something.else", "schema_version": 1, "components": {}}))
    assert main(["profile", "--bundle", str(tmp_path / "nope"), "--device-json", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert "unsupported schema" in err and "\n" not in err
    bad.write_text(json.dumps({"schema": SCHEMA, "schema_version": 1, "components": {"denoiser": {"median_ms": "x"}}}))
    assert main(["profile", "--bundle", str(tmp_path / "nope"), "--device-json", str(bad)]) == 1
    assert "components.denoiser.median_ms must be a number" in capsys.readouterr().err
    bad.write_text("{not json")
    assert main(["profile", "--bundle", str(tmp_path / "nope"), "--device-json", str(bad)]) == 1
    assert "not valid JSON" in capsys.readouterr().err


def test_total_formula():
    comps = {"text_encoder": {"median_ms": 3.0}, "denoiser": {"median_ms": 10.0}, "vae_decoder": {"median_ms": 7.0}}
    guided = video_total(comps, {"steps": 4, "guidance_scale": 5.0})
    assert guided["total_ms"] == 3 + 4 * 2 * 10 + 7 and guided["denoiser_calls"] == 8
    plain = video_total(comps, {"steps": 4, "guidance_scale": 1.0})
    assert plain["total_ms"] == 3 + 4 * 10 + 7 and plain["calls_per_step"] == 1
    assert video_total({"denoiser": {"median_ms": 1.0}}, {"steps": 4, "guidance_scale": 1.0})["total_ms"] is None


def test_breakdown_covers_every_slot_and_temporal_layer():
    from mobilevid.export.components import DenoiserExport
    from mobilevid.models.arch_spec import parse_arch, slot_table
    from mobilevid.models.presets import get_preset
    from mobilevid.models.video_unet import VideoUNet

    cfg = get_preset("tiny").denoiser
    cfg.latent_height = cfg.latent_width = 8  # the tiny preset's blocks on a smaller clip: fast
    cfg.num_frames = 4
    torch.manual_seed(0)
    unet = VideoUNet(cfg).eval()
    inputs = [torch.randn(1, cfg.num_frames, cfg.in_channels, cfg.latent_height, cfg.latent_width),
              torch.tensor([500.0]), torch.randn(1, 32, cfg.cross_attention_dim), torch.ones(1, 32),
              torch.randn(1, cfg.pooled_text_dim)]
    blocks = denoiser_breakdown(DenoiserExport(unet, 8.0).eval(), unet, inputs, runs=1, warmup=0)
    assert blocks["measured_with"] == "torch eager"
    groups = [g["name"] for g in blocks["groups"]]
    assert groups[0] == "embed" and groups[-2:] == ["temporal", "other"]
    assert {"down.0", "mid", "up.0", "out"} <= set(groups)
    assert sum(g["share"] for g in blocks["groups"]) == pytest.approx(1.0, abs=0.01)
    spatial = {u["slot"] for u in blocks["units"] if u["kind"] == "spatial"}
    assert spatial == {s.index for s in slot_table(cfg)}
    temporal = {(u["slot"], u["candidate"]) for u in blocks["units"] if u["kind"] == "temporal"}
    assert temporal == {(i, n) for i, names in parse_arch(cfg.arch, cfg).items() for n in names}
    assert all(u["ms"] > 0 for u in blocks["units"])


# -- slow: a real ONNX bundle of the default model ---------------------------------------------------
@pytest.fixture(scope="module")
def profiled(onnx_bundle, tmp_path_factory):
    path = tmp_path_factory.mktemp("profile") / "profile.json"
    assert main(["profile", "--bundle", str(onnx_bundle), "--runs", "3", "--warmup", "1", "--threads", "1",
                 "--json", str(path)]) == 0
    return json.loads(path.read_text())


@pytest.mark.slow
def test_profile_json(profiled, onnx_bundle):
    from mobilevid.export.manifest import read_manifest

    m = read_manifest(onnx_bundle).to_json()
    assert profiled["schema"] == SCHEMA and profiled["schema_version"] == 1
    assert profiled["runtime"] == "onnxruntime" and profiled["runs"] == 3 and profiled["warmup"] == 1
    assert profiled["threads"] == 1
    assert set(profiled["components"]) == {"text_encoder", "denoiser", "vae_decoder"}
    for name, comp in profiled["components"].items():
        assert 0 < comp["min_ms"] <= comp["median_ms"] <= comp["p90_ms"]
        assert comp["peak_rss_mb"] > 0 and comp["bytes"] == m["diagnostics"]["components"][name]["bytes"]
        assert comp["inputs"] == m["components"][name]["inputs"]
    c, s = profiled["components"], m["sampler"]
    per_step = s["calls_per_step"]
    assert c["denoiser"]["calls_per_video"] == s["steps"] * per_step
    want = c["text_encoder"]["median_ms"] + s["steps"] * per_step * c["denoiser"]["median_ms"] + c["vae_decoder"]["median_ms"]
    assert profiled["video"]["total_ms"] == pytest.approx(want, rel=1e-6)
    blocks = profiled["denoiser_blocks"]
    assert blocks["measured_with"] == "torch eager" and blocks["source"] == "built-in default model"
    assert any(u["kind"] == "temporal" and u["candidate"] == "temporal_attention" for u in blocks["units"])
    if profiled["npu_estimate"] is not None:
        assert profiled["npu_estimate"]["label"] == "estimate"
        assert c["denoiser"]["flops"] > 0 and c["denoiser"]["npu_estimate_ms"] > 0
        assert profiled["video"]["npu_estimate_ms"] > 0
    validate_profile(profiled)


@pytest.mark.slow
def test_torch_runtime_and_device_json_round_trip(profiled, onnx_bundle, default_pipe, tmp_path, capsys):
    device = dict(profiled, device={"name": "iPhone 15 Pro"}, runtime="coreml")
    path = tmp_path / "device.json"
    path.write_text(json.dumps(device))
    out = tmp_path / "torch.json"
    capsys.readouterr()
    assert main(["profile", "--bundle", str(onnx_bundle), "--runtime", "torch", "--runs", "1", "--warmup", "0",
                 "--threads", "1", "--no-blocks", "--device-json", str(path), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "This machine vs iPhone 15 Pro" in text
    row = next(line for line in text.splitlines() if line.startswith("| denoiser |") and "iPhone" not in line
               and line.count("|") == 6)
    assert f"{profiled['components']['denoiser']['median_ms']:.2f}" in row
    result = json.loads(out.read_text())
    assert result["runtime"] == "torch" and result["denoiser_blocks"] is None
    assert result["components"]["denoiser"]["bytes"] >= 4 * sum(p.numel() for p in default_pipe.denoiser.parameters())


@pytest.mark.slow
def test_markdown_says_what_is_measured_and_what_is_estimated(profiled):
    from mobilevid.export.profiling import format_profile

    text = format_profile(profiled)
    assert "torch eager, measured" in text and "total per video" in text
    if profiled["npu_estimate"] is not None:
        assert "**estimate**" in text
