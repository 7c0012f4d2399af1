"""``export_bundle``: a model folder -> a bundle for one target, gated on parity with PyTorch.

Bundle layout::

    manifest.json          the contract (mobilevid/export/manifest.py, export/README.md)
    text_encoder.<ext>     one file (or Core ML chunks) per component
    denoiser.<ext>
    vae_decoder.<ext>
    tokenizer/             the text encoder's WordPiece vocabulary and tokenizer config

The bundle is built in a hidden temporary folder and renamed into place only after every
component passed its gate, so a failed export leaves nothing that looks complete.
"""

from __future__ import annotations

import logging
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

import mobilevid
from mobilevid.artifacts import atomic_dir, write_json
from mobilevid.errors import MobilevidError
from mobilevid.export.components import COMPONENTS, build_components
from mobilevid.export.manifest import (
    MANIFEST_NAME,
    SCHEMA,
    SCHEMA_VERSION,
    ComponentDiagnostics,
    ComponentSpec,
    Diagnostics,
    LatentSpec,
    Manifest,
    NoiseSpec,
    PixelSpec,
    Provenance,
    SamplerSpec,
    SourceModel,
    TokenizerSpec,
    VideoSpec,
    model_hash,
    parse_manifest,
    tensor_spec,
)
from mobilevid.export.options import check_combination
from mobilevid.export.parity import ParityError, check_parity, require
from mobilevid.sampling import RENOISE, calls_per_step, timesteps

logger = logging.getLogger("mobilevid.export")

TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
# The text encoder runs once per video: with w8a8 its weights are int8 but its activations are
# quantized dynamically (statically calibrated int8 activations cost it >15 dB on MiniLM's
# attention, measured with ONNX Runtime on the default model).
_TEXT_ENCODER_QUANTIZE = {"w8a8": "int8"}


def _without_static_activations(target: str, quantize: str) -> str:
    """``quantize`` with statically calibrated int8 activations dropped: int8 weights on ONNX, fp32 on ExecuTorch."""
    return _TEXT_ENCODER_QUANTIZE[quantize] if target == "onnx" else "none"


def _component_quantize(name: str, target: str, quantize: str) -> str:
    if name == "text_encoder" and target in ("onnx", "executorch") and quantize in _TEXT_ENCODER_QUANTIZE:
        return _without_static_activations(target, quantize)
    return quantize


def _export_gated(name: str, component, target: str, quantize: str, delegate: str | None, out: Path,
                  parity_samples: int) -> tuple[ComponentSpec, dict[str, Any]]:
    """``_export_component``; a VAE decoder that fails its gate under w8a8 is exported as the text encoder is.

    The decoder runs once per video, and a narrow one can lose too much to statically calibrated
    int8 activations: the built-in default's quarter-width decoder reaches 15.5 dB on ExecuTorch
    against the 18 dB gate. It then keeps int8 weights with dynamic activations (ONNX) or fp32
    (ExecuTorch); its manifest entry says which.
    """
    before = set(out.iterdir())
    try:
        return _export_component(component, target, quantize, delegate, out, parity_samples)
    except ParityError as err:
        if name != "vae_decoder" or quantize not in _TEXT_ENCODER_QUANTIZE:
            raise
        lighter = _without_static_activations(target, quantize)
        logger.warning("%s; exporting the VAE decoder with --quantize %s instead", err, lighter)
        for leftover in set(out.iterdir()) - before:  # the failed attempt's files
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
        return _export_component(component, target, lighter, delegate, out, parity_samples)


def _export_component(component, target: str, quantize: str, delegate: str | None, out: Path,
                      parity_samples: int) -> tuple[ComponentSpec, dict[str, Any]]:
    """Export one component into ``out``, run its gate; returns its contract entry and its diagnostics."""
    info: dict[str, Any] = {}
    if target == "onnx":
        from mobilevid.export.onnx_target import export_onnx, onnx_runner

        files = export_onnx(component, quantize, out)
        parity = require(check_parity(component, onnx_runner(out / files[0]), "onnxruntime", quantize, parity_samples))
        info["parity"] = parity.to_json()
    elif target == "executorch":
        from mobilevid.export.executorch_target import (
            executorch_runner,
            executorch_runs_here,
            export_executorch,
        )

        files, info["delegation"] = export_executorch(component, quantize, out, delegate)
        if info["delegation"]["delegated_ops"] == 0:
            raise MobilevidError(f"{component.name}: nothing was delegated to {delegate}")
        if executorch_runs_here(delegate):
            parity = check_parity(component, executorch_runner(out / files[0]), f"executorch-{delegate}", quantize,
                                  parity_samples)
            info["parity"] = require(parity).to_json()
        else:
            info["parity"] = {"runtime": f"executorch-{delegate}", "passed": None,
                              "reason": f"the {delegate} backend does not run on {platform.system()}"}
    else:
        from mobilevid.export.coreml_target import (
            coreml_runner,
            coreml_runs_here,
            export_coreml,
            inspect_coreml,
        )

        files = export_coreml(component, quantize, out)
        # Chunks are checked and run as one chain: the first takes the inputs, the last gives the outputs.
        paths = out / files[0] if len(files) == 1 else [out / f for f in files]
        info["spec"] = inspect_coreml(paths, component)
        if coreml_runs_here():
            info["parity"] = require(check_parity(component, coreml_runner(paths, input_names=list(component.example)), "coreml", quantize,
                                                  parity_samples)).to_json()
        else:
            info["parity"] = {"runtime": "coreml", "passed": None,
                              "reason": "Core ML predicts only on macOS: the spec, op list and weight sizes were "
                                        "checked instead"}
    sample = component.example
    outputs = component.reference(sample)
    spec = ComponentSpec(files=files, quantize=quantize,
                         inputs=[tensor_spec(k, v) for k, v in sample.items()],
                         outputs=[tensor_spec(k, v) for k, v in zip(component.output_names, outputs, strict=True)])
    info["bytes"] = sum(_size(out / f) for f in files)
    return spec, info


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _check_finite_weights(pipe, components: tuple[str, ...]) -> None:
    """A one-line error naming the first NaN or Inf weight, before any export work (the gate would
    otherwise fail later with a PSNR of -inf dB, which does not say why)."""
    modules = {"text_encoder": pipe.text_encoder.module, "denoiser": pipe.denoiser, "vae_decoder": pipe.vae}
    for name in components:
        for tensor_name, tensor in modules[name].state_dict().items():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise MobilevidError(f"non-finite values (NaN or Inf) in the {name}'s weight {tensor_name}: "
                                     "the model cannot be exported")


def export_bundle(pipe, model_dir: Path | None, target: str, quantize: str = "none", delegate: str | None = None,
                  output: str | Path = "bundle", parity_samples: int = 3, calibration_samples: int = 8,
                  components: tuple[str, ...] = COMPONENTS, progress: bool = True,
                  overwrite: bool = False) -> Manifest:
    """Export ``pipe``'s components to ``output``; returns the manifest. Raises on a failed gate (nothing written)."""
    delegate = check_combination(target, quantize, delegate)
    unknown = set(components) - set(COMPONENTS)
    if unknown or not components:
        raise MobilevidError(f"unknown component(s) {sorted(unknown)}; valid: {', '.join(COMPONENTS)}")
    _check_finite_weights(pipe, components)
    start = time.perf_counter()
    parts = build_components(pipe, num_samples=max(parity_samples, calibration_samples))
    cfg = pipe.config
    sigma_levels = pipe.sigmas()
    sigmas = [float(s) for s in sigma_levels]
    student = pipe.samples_as_student()
    guidance = 1.0 if student else float(cfg.sampling.guidance)
    specs: dict[str, ComponentSpec] = {}
    diagnostics: dict[str, ComponentDiagnostics] = {}
    with atomic_dir(output, overwrite, MANIFEST_NAME, "bundle") as tmp:
        bar = tqdm(components, desc=f"export {target}", disable=not progress)
        for name in bar:
            bar.set_postfix_str(name)
            q = _component_quantize(name, target, quantize)
            t0 = time.perf_counter()
            specs[name], info = _export_gated(name, parts[name], target, q, delegate, tmp, parity_samples)
            diagnostics[name] = ComponentDiagnostics(export_seconds=round(time.perf_counter() - t0, 2), **info)
            logger.info("%s: %s", name, info.get("parity"))
        tok_dir = tmp / "tokenizer"
        tok_dir.mkdir()
        src = Path(pipe.text_encoder.tokenizer_dir)
        copied = [f for f in TOKENIZER_FILES if (src / f).is_file()]
        for f in copied:
            shutil.copy2(src / f, tok_dir / f)
        tok = pipe.text_encoder.tokenizer
        lowercase = bool(getattr(tok, "do_lower_case", True))
        strip_accents = getattr(tok, "strip_accents", None)
        latent_shape = [cfg.num_frames, pipe.vae.config.latent_channels, cfg.denoiser.latent_height,
                        cfg.denoiser.latent_width]
        manifest = Manifest(
            schema=SCHEMA,
            schema_version=SCHEMA_VERSION,
            target=target,
            delegate=delegate,
            quantize=quantize,
            video=VideoSpec(frames=cfg.num_frames, fps=float(cfg.fps), height=cfg.height, width=cfg.width),
            latent=LatentSpec(channels=latent_shape[1], height=latent_shape[2], width=latent_shape[3],
                              scaling_factor=float(pipe.vae.config.scaling_factor),
                              shift_factor=pipe.vae.config.shift_factor),
            tokenizer=TokenizerSpec(type="wordpiece", files=[f"tokenizer/{f}" for f in copied],
                                    max_length=pipe.text_encoder.max_length, lowercase=lowercase,
                                    strip_accents=lowercase if strip_accents is None else bool(strip_accents),
                                    pad_id=tok.pad_token_id, cls_id=tok.cls_token_id, sep_id=tok.sep_token_id,
                                    unk_id=tok.unk_token_id, null_prompt=""),
            sampler=SamplerSpec(
                type=RENOISE if student else "flow_match_euler", steps=len(sigmas) - 1, sigmas=sigmas,
                timesteps=timesteps(sigma_levels), guidance_scale=guidance, calls_per_step=calls_per_step(guidance),
                update=("x0 = x - sigmas[i] * v; x = (1 - sigmas[i+1]) * x0 + sigmas[i+1] * noise (x = x0 at the last "
                        "step)") if student else "x = x + (sigmas[i+1] - sigmas[i]) * v",
                guidance="v = v_uncond + guidance_scale * (v_cond - v_uncond)"),
            noise=NoiseSpec(
                generator="torch_cpu_mt19937", distribution="standard_normal", dtype="float32", shape=latent_shape,
                seed_rule="seed_plus_prompt_index",
                order="the initial latents, then one draw of the same shape at every x0_renoise step whose "
                      "sigmas[i+1] > 0, all from the prompt's own generator"),
            pixels=PixelSpec(decoder_output_range=[-1.0, 1.0], to_unit="clamp((x + 1) / 2, 0, 1)",
                             to_uint8="round_half_to_even(p * 255)", layout="(1, frames, 3, height, width)"),
            components=specs,
            provenance=Provenance(created_by=f"mobilevid {mobilevid.__version__}", torch=torch.__version__,
                                  source_model=SourceModel(path=str(model_dir) if model_dir else None,
                                                           sha256=model_hash(model_dir) if model_dir else None,
                                                           preset=cfg.preset)),
            diagnostics=Diagnostics(export_seconds=round(time.perf_counter() - start, 2), components=diagnostics),
        )
        write_json(tmp / MANIFEST_NAME, parse_manifest(manifest.to_json()).to_json())  # typed + JSON Schema
    return manifest
