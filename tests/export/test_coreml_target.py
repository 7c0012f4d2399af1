"""Core ML export of the tiny default model: conversion, compression sizes, spec checks and chunking.

Core ML cannot run models on Linux, so these check the saved ML programs' specs; one
conversion per component is shared by all its compression options (conversion dominates).
"""

import shutil
from collections import OrderedDict

import pytest

from mobilevid.errors import MobilevidError
from mobilevid.export.components import Component
from mobilevid.export.coreml_target import (
    FP32_OPS,
    QUANTIZE,
    coreml_runner,
    coreml_runs_here,
    export_coreml,
    export_coreml_variants,
    inspect_coreml,
    split_mlpackage,
    weights_bytes,
)
from mobilevid.export.parity import ParityError

# Weight bytes of each option relative to fp16 ("none"), measured on the tiny default model:
# int8 1.94-1.99x, int4 3.54-3.66x, palettize6 2.46-2.51x, palettize4 3.72-3.97x smaller.
SHRINK = {"int8": (1.8, 2.1), "int4": (3.2, 4.1), "palettize6": (2.2, 2.8), "palettize4": (3.3, 4.1)}
# The default's VAE decoder is pruned to a quarter of its channels (29k parameters): most of its bytes
# sit in tensors below the 2048-element threshold, which stay fp16. Measured: int8 1.42x, int4 1.83x,
# palettize6 1.58x, palettize4 1.83x (the unpruned light decoder of the teacher: 1.93 / 3.60 / 2.47 / 3.63x).
SHRINK_PRUNED_DECODER = {"int8": (1.3, 1.6), "int4": (1.6, 2.1), "palettize6": (1.4, 1.8), "palettize4": (1.6, 2.1)}
COMPRESSED_OP = {"int8": "constexpr_blockwise_shift_scale", "int4": "constexpr_blockwise_shift_scale",
                 "palettize6": "constexpr_lut_to_dense", "palettize4": "constexpr_lut_to_dense"}


def _check_variants(component, out_dir, files, shrink=SHRINK):
    infos = {q: inspect_coreml([out_dir / q / f for f in fs], component) for q, fs in files.items()}
    for q, info in infos.items():
        assert [i["name"] for i in info["inputs"]] == list(component.example)
        assert [o["name"] for o in info["outputs"]] == list(component.output_names)
        assert all(o["dtype"] == "FLOAT32" for o in info["outputs"])
        assert info["compute_precision"] == "mixed"  # fp16 compute, GroupNorm statistics fp32
        if q != "none":
            assert info["op_counts"].get(COMPRESSED_OP[q], 0) > 0, q
            ratio = infos["none"]["weights_bytes"] / info["weights_bytes"]
            low, high = shrink[q]
            assert low <= ratio <= high, f"{q}: {ratio:.2f}x smaller than fp16"
    return infos


# Session scope: under pytest-xdist other modules' tests can run between this module's, which
# would tear a module fixture down and convert again.
@pytest.fixture(scope="session")
def vae_exports(default_components, tmp_path_factory):
    out = tmp_path_factory.mktemp("coreml_vae")
    return out, export_coreml_variants(default_components["vae_decoder"], QUANTIZE, out)


def test_vae_decoder_every_option_converts_and_shrinks(default_components, vae_exports):
    out, files = vae_exports
    assert files == {q: ["vae_decoder.mlpackage"] for q in QUANTIZE}
    infos = _check_variants(default_components["vae_decoder"], out, files, SHRINK_PRUNED_DECODER)
    none = infos["none"]
    assert none["inputs"] == [{"name": "latents", "shape": [1, 16, 4, 16, 16], "dtype": "FLOAT32"}]
    assert none["outputs"][0]["shape"] == [1, 16, 3, 64, 64]
    # fp16 weights: 2 bytes per decoder parameter (the smallest constants sit inline in the program;
    # each blob is aligned, which adds more on a decoder of many small tensors).
    params = sum(p.numel() for p in default_components["vae_decoder"].module.vae.decoder_modules().parameters())
    assert 1.9 * params <= none["weights_bytes"] <= 2.4 * params
    assert set(none["float32_ops"]) <= FP32_OPS and none["float32_ops"]["reduce_mean"] > 0


def test_text_encoder_converts_with_int32_inputs(default_components, tmp_path):
    component = default_components["text_encoder"]
    files = export_coreml(component, "none", tmp_path)
    assert files == ["text_encoder.mlpackage"]
    info = inspect_coreml(tmp_path / files[0], component)
    assert [(i["name"], i["dtype"]) for i in info["inputs"]] == [("input_ids", "INT32"), ("attention_mask", "INT32")]
    assert [o["name"] for o in info["outputs"]] == ["text_states", "pooled_text"]
    assert info["op_counts"]["linear"] >= 36  # 6 BERT layers x (q, k, v, out, 2 MLP)


def test_inspect_rejects_mismatches(default_components, vae_exports):
    out, _ = vae_exports
    path = out / "none" / "vae_decoder.mlpackage"
    good = default_components["vae_decoder"]
    latents = good.example["latents"]

    def variant(example, outputs=("video",)):
        return Component("vae_decoder", good.module, [OrderedDict(example)], outputs)

    with pytest.raises(ParityError, match="inputs"):
        inspect_coreml(path, variant({"latent": latents}))
    with pytest.raises(ParityError, match="expected FLOAT32"):
        inspect_coreml(path, variant({"latents": latents[:, :8]}))
    with pytest.raises(ParityError, match="outputs"):
        inspect_coreml(path, variant({"latents": latents}, outputs=("frames",)))
    with pytest.raises(ParityError, match="not a Core ML package"):
        inspect_coreml(out / "missing.mlpackage", good)


def test_split_into_chunks_under_the_limit(default_components, vae_exports, tmp_path):
    out, _ = vae_exports
    path = tmp_path / "vae_decoder.mlpackage"
    shutil.copytree(out / "none" / "vae_decoder.mlpackage", path)
    total = weights_bytes(path)
    assert split_mlpackage(path, max_bytes=total + 1) == [path]  # small enough: untouched

    limit = int(total * 0.4)
    chunks = split_mlpackage(path, max_bytes=limit)
    assert [c.name for c in chunks] == [f"vae_decoder_chunk{i}.mlpackage" for i in range(1, len(chunks) + 1)]
    assert len(chunks) >= 3 and not path.exists()
    assert all(c.is_dir() and 0 < weights_bytes(c) < limit for c in chunks)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(c.name for c in chunks)  # no work files left
    info = inspect_coreml(chunks, default_components["vae_decoder"])
    assert len(info["chunks"]) == len(chunks)
    assert info["inputs"][0]["name"] == "latents" and info["outputs"][0]["name"] == "video"
    assert abs(info["weights_bytes"] - total) < 0.05 * total
    with pytest.raises(ParityError):  # out of order, chunk 2 reads what chunk 1 has not produced
        inspect_coreml([chunks[1], chunks[0], *chunks[2:]], default_components["vae_decoder"])


def test_unknown_option_and_platform(default_components, tmp_path):
    with pytest.raises(MobilevidError, match="unknown Core ML quantization"):
        export_coreml(default_components["vae_decoder"], "int2", tmp_path)
    if not coreml_runs_here():
        with pytest.raises(MobilevidError, match="macOS"):
            coreml_runner(tmp_path / "x.mlpackage")


@pytest.mark.slow
def test_denoiser_every_option_converts_and_shrinks(default_components, tmp_path):
    component = default_components["denoiser"]
    files = export_coreml_variants(component, QUANTIZE, tmp_path)
    infos = _check_variants(component, tmp_path, files)
    assert [i["name"] for i in infos["none"]["inputs"]] == ["sample", "timestep", "text_states", "text_mask",
                                                             "pooled_text"]
    assert infos["none"]["op_counts"]["scaled_dot_product_attention"] > 0


@pytest.mark.slow
def test_text_encoder_compresses_its_embedding(default_components, tmp_path):
    # 30522 vocabulary rows do not split into groups of 16: the table falls back to one palette.
    files = export_coreml_variants(default_components["text_encoder"], ["none", "int8", "palettize4"], tmp_path)
    _check_variants(default_components["text_encoder"], tmp_path, files)
