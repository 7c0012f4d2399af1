"""Run a whole export bundle from Python: the same steps the Swift app takes, on ONNX Runtime or ExecuTorch.

Reads only the bundle (manifest, tokenizer files, component files): tokenizes with the
bundled WordPiece vocabulary, runs the text encoder, then the sampler exactly as the manifest
states it (mobilevid/sampling.py: its step type, levels, guidance and noise rule; two denoiser
calls per step under guidance, conditional first), then the decoder. A float bundle therefore
reproduces the PyTorch video.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from mobilevid.errors import MobilevidError
from mobilevid.export.manifest import Manifest, bundle_file, read_manifest, require_components
from mobilevid.pipeline import PipelineOutput
from mobilevid.sampling import (
    StepHook,
    check_finite,
    combine_guidance,
    denoiser_calls,
    draw_noise,
    latents_to_pixels,
    prompt_generators,
    sample,
    uses_guidance,
)

RUNTIMES = {"onnx": "onnxruntime", "executorch": "executorch"}

Runner = Callable[[Sequence[torch.Tensor]], list[torch.Tensor]]


def runtime_for(manifest: Manifest, runtime: str | None) -> str:
    """The runtime that runs a bundle here: its target's, checked against ``runtime`` if given."""
    target = manifest.target
    if target not in RUNTIMES or (target == "executorch" and manifest.delegate != "xnnpack"):
        where = target + (f" ({manifest.delegate} delegate)" if target == "executorch" else "")
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


def load_tokenizer(bundle: Path):
    """The bundle's own WordPiece tokenizer (transformers, from the bundle's files only)."""
    from transformers import AutoTokenizer

    folder = bundle / "tokenizer"
    if not (folder / "vocab.txt").is_file():
        raise MobilevidError(f"bundle {bundle} is incomplete: no tokenizer/vocab.txt")
    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as err:
        raise MobilevidError(f"bundle {bundle}: cannot read its tokenizer ({str(err).splitlines()[0]})") from None


class BundlePipeline:
    """``BundlePipeline(DIR)(prompts, seed=0)`` -> ``PipelineOutput``, like ``Pipeline``."""

    def __init__(self, bundle: str | Path, runtime: str | None = None) -> None:
        self.bundle = Path(bundle)
        self.manifest = read_manifest(self.bundle)
        self.runtime = runtime_for(self.manifest, runtime)
        require_components(self.manifest, self.bundle)
        self.tokenizer = load_tokenizer(self.bundle)
        self.runners = {name: load_runner(bundle_file(self.bundle, comp.files[0]), self.runtime)
                        for name, comp in self.manifest.components.items()}
        self.max_length = self.manifest.tokenizer.max_length

    def tokenize(self, prompt: str) -> tuple[torch.Tensor, torch.Tensor]:
        """int32 ids and mask (1, max_length), padded and truncated as the manifest says."""
        tok = self.tokenizer([prompt], padding="max_length", truncation=True, max_length=self.max_length,
                             return_tensors="pt")
        return tok["input_ids"].int(), tok["attention_mask"].int()

    def encode(self, prompt: str) -> list[torch.Tensor]:
        """The denoiser's text inputs for ``prompt``: token states, the mask as float, pooled text."""
        ids, mask = self.tokenize(prompt)
        states, pooled = self.runners["text_encoder"]([ids, mask])
        return [states, mask.float(), pooled]

    def sample_latents(self, prompt: str, generator: torch.Generator, on_step: StepHook | None = None) -> torch.Tensor:
        """The final latents (1, F, C, h, w) of one prompt, drawing its noise from ``generator``."""
        sampler = self.manifest.sampler
        guided = uses_guidance(sampler.guidance_scale)
        cond = self.encode(prompt)
        null = self.encode(self.manifest.tokenizer.null_prompt) if guided else None

        def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            v = self.runners["denoiser"]([x, t, *cond])[0]
            if null is None:
                return v
            return combine_guidance(v, self.runners["denoiser"]([x, t, *null])[0], sampler.guidance_scale)

        noise = draw_noise([generator], self.manifest.noise.shape)
        return sample(velocity, noise, torch.tensor(sampler.sigmas, dtype=torch.float32), sampler.type,
                      [generator], on_step=on_step)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Frames (F, 3, H, W) in [0, 1] from final latents."""
        video = check_finite(self.runners["vae_decoder"]([latents.contiguous()])[0], "the VAE decoder output")
        return latents_to_pixels(video)[0]

    def __call__(self, prompt: str | list[str], seed: int = 0) -> PipelineOutput:
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        if not prompts or any(not p.strip() for p in prompts):
            raise MobilevidError("empty prompt: give a text description")
        generators = prompt_generators(seed, len(prompts))
        start = time.perf_counter()
        videos = [self.decode(self.sample_latents(p, g)) for p, g in zip(prompts, generators, strict=True)]
        s = self.manifest.sampler
        return PipelineOutput(frames=torch.stack(videos), seconds=time.perf_counter() - start,
                              model_evaluations=denoiser_calls(s.steps, s.guidance_scale))
