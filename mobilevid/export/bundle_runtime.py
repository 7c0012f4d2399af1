"""Run a whole export bundle from Python: the same steps the Swift app takes, on ONNX Runtime or ExecuTorch.

Reads only the bundle (manifest, tokenizer files, component files): tokenizes with the
bundled WordPiece vocabulary, runs the text encoder, the sampler from the manifest's noise
levels (two denoiser calls per step when the manifest asks for guidance), then the decoder.
The starting noise is drawn exactly as ``Pipeline`` draws it, so a float bundle reproduces
the PyTorch video.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from mobilevid.errors import MobilevidError
from mobilevid.export.manifest import read_manifest
from mobilevid.pipeline import PipelineOutput
from mobilevid.sampling import sample_flow_euler, sample_x0_renoise

RUNTIMES = {"onnx": "onnxruntime", "executorch": "executorch"}

Runner = Callable[[Sequence[torch.Tensor]], list[torch.Tensor]]


def runtime_for(manifest: dict, runtime: str | None) -> str:
    """The runtime that runs a bundle here: its target's, checked against ``runtime`` if given."""
    target = manifest["target"]
    if target not in RUNTIMES or (target == "executorch" and manifest.get("delegate") != "xnnpack"):
        where = target + (f" ({manifest.get('delegate')} delegate)" if target == "executorch" else "")
        raise MobilevidError(f"a {where} bundle runs only on Apple systems; export with --target onnx or "
                             "--target executorch --delegate xnnpack to run it here")
    expected = RUNTIMES[target]
    if runtime is not None and runtime != expected:
        raise MobilevidError(f"this bundle was exported for {target}: use --runtime {expected}, not {runtime}")
    return expected


def load_runner(path: Path, runtime: str) -> Runner:
    if runtime == "onnxruntime":
        from mobilevid.export.onnx_target import onnx_runner

        return onnx_runner(path)
    from mobilevid.export.executorch_target import executorch_runner

    return executorch_runner(path)


class BundlePipeline:
    """``BundlePipeline(DIR)(prompts, seed=0)`` -> ``PipelineOutput``, like ``Pipeline``."""

    def __init__(self, bundle: str | Path, runtime: str | None = None) -> None:
        from transformers import AutoTokenizer

        self.bundle = Path(bundle)
        self.manifest = read_manifest(self.bundle)
        self.runtime = runtime_for(self.manifest, runtime)
        missing = {"text_encoder", "denoiser", "vae_decoder"} - set(self.manifest["components"])
        if missing:
            raise MobilevidError(f"bundle {self.bundle} lacks {', '.join(sorted(missing))}: cannot generate")
        self.runners = {name: load_runner(self.bundle / comp["files"][0], self.runtime)
                        for name, comp in self.manifest["components"].items()}
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.bundle / "tokenizer"), local_files_only=True)
        self.max_length = self.manifest["tokenizer"]["max_length"]

    def _encode(self, prompt: str) -> list[torch.Tensor]:
        tok = self.tokenizer([prompt], padding="max_length", truncation=True, max_length=self.max_length,
                             return_tensors="pt")
        ids, mask = tok["input_ids"].int(), tok["attention_mask"].int()
        states, pooled = self.runners["text_encoder"]([ids, mask])
        return [states, mask.float(), pooled]

    def __call__(self, prompt: str | list[str], seed: int = 0) -> PipelineOutput:
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        if not prompts or any(not p.strip() for p in prompts):
            raise MobilevidError("empty prompt: give a text description")
        start = time.perf_counter()
        sampler = self.manifest["sampler"]
        sigmas, guidance = sampler["sigmas"], float(sampler["guidance_scale"])
        shape = self.manifest["components"]["denoiser"]["inputs"][0]["shape"][1:]  # (F, C, h, w)
        null = self._encode("") if guidance != 1.0 else None
        videos = []
        for i, p in enumerate(prompts):
            cond = self._encode(p)
            gen = torch.Generator().manual_seed(seed + i)
            x = torch.randn(*shape, generator=gen)[None]

            def velocity(x: torch.Tensor, t: torch.Tensor, cond: list[torch.Tensor] = cond) -> torch.Tensor:
                v = self.runners["denoiser"]([x, t, *cond])[0]
                if null is None:
                    return v
                v_null = self.runners["denoiser"]([x, t, *null])[0]
                return v_null + guidance * (v - v_null)

            # The same samplers as the PyTorch pipeline; a distilled student re-noises (sampler type x0_renoise).
            levels = torch.tensor(sigmas)
            if sampler["type"] == "x0_renoise":
                x = sample_x0_renoise(velocity, x, levels, [gen])
            else:
                x = sample_flow_euler(velocity, x, levels)
            video = self.runners["vae_decoder"]([x.contiguous()])[0]
            videos.append(((video + 1) / 2).clamp(0, 1)[0])
        steps = len(sigmas) - 1
        return PipelineOutput(frames=torch.stack(videos), seconds=time.perf_counter() - start,
                              model_evaluations=steps * (1 if guidance == 1.0 else 2))
