"""Golden vectors: what Python computes on one real run of a bundle, for the Swift package to replay.

``write_golden(BUNDLE)`` runs the bundle with the Python bundle runtime (ONNX Runtime or ExecuTorch,
mobilevid/export/bundle_runtime.py) and records, in ``BUNDLE/golden/`` (or another folder):

- token ids and attention masks of a few tricky prompts (the bundle's own tokenizer);
- the initial noise of a few seeds (the sampler's noise rule, ``draw_noise``), some with a second draw;
- one whole run: the text encoder's inputs and outputs (and the null prompt's under guidance), the
  initial noise, at each sampler step the latents fed to the denoiser, its timestep, the denoiser's
  outputs (conditional, then unconditional) and the step's result, the final latents, the decoder's
  output and the uint8 frames (``to_uint8``: (F, H, W, 3)).

Format (schema ``mobilevid.golden`` v1): ``index.json`` names every tensor with its file, dtype
(float32, int32, uint8) and shape; each tensor is one raw little-endian file, row-major, so Swift
reads it with no library. The index also records torch's CPU capability, which decides the kernel
of torch's randn (``randn_kernel``: ``avx2`` on x86-64 with AVX2 or AVX-512, else ``scalar``).

Swift twins: ios_demo/Sources/MobileVidCore/GoldenVectors.swift (reader), GoldenReplay.swift (replay,
``mobilevid-swift replay BUNDLE/golden``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

import mobilevid
from mobilevid.artifacts import atomic_dir, write_json
from mobilevid.errors import MobilevidError
from mobilevid.output_paths import check_output_dir
from mobilevid.sampling import check_seed, draw_noise, prompt_generators

SCHEMA = "mobilevid.golden"
SCHEMA_VERSION = 1
INDEX_NAME = "index.json"
DEFAULT_PROMPT = "a red circle moves from left to right"
# Tricky text for the tokenizer: accents, punctuation, emoji, CJK, control characters, special tokens,
# an over-long word, a 500-character prompt, an empty prompt.
TOKEN_PROMPTS = (
    DEFAULT_PROMPT,
    "",
    "Café déjà vu, naïve façade — Ångström!",
    "hello,world!!(test) $5 + 3 = ~8 @user #tag",
    "a cat 😀 on a 🚀 rocket 👩‍👩‍👧 family",
    "一只猫在跳舞 and 東京タワー",
    "tab\there\nnewline\x00null\u200bzwsp\u00adshy",
    "[MASK] a [CLS]cat",
    "x" * 150,
    ("A long prompt about a dog running through a field of flowers at sunset. " * 7)[:500],
)
# (seed, draws): seeds small and large (2**63 - 1 is torch's largest), two draws from one generator.
NOISE_SEEDS = ((0, 1), (1, 2), (42, 1), (2**32 + 7, 1), (2**63 - 1, 1))
_DTYPES = {torch.float32: ("float32", "<f4"), torch.int32: ("int32", "<i4"), torch.uint8: ("uint8", "u1")}


def randn_kernel(capability: str) -> str:
    """Which of torch's CPU randn kernels runs at this ``torch.backends.cpu.get_cpu_capability()``."""
    return "avx2" if capability.upper().startswith(("AVX2", "AVX512")) else "scalar"


class _TensorFiles:
    """Writes tensors as raw little-endian files into a folder and keeps their index entries."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.index: dict[str, dict[str, Any]] = {}

    def add(self, name: str, tensor: torch.Tensor | np.ndarray) -> str:
        t = torch.as_tensor(tensor).detach().cpu().contiguous()
        if t.dtype not in _DTYPES:
            raise MobilevidError(f"golden tensor {name}: unsupported dtype {t.dtype}")
        dtype, numpy_dtype = _DTYPES[t.dtype]
        file = f"{name}.bin"
        t.numpy().astype(numpy_dtype).tofile(self.folder / file)
        self.index[name] = {"file": file, "dtype": dtype, "shape": list(t.shape)}
        return name


class _Recorder:
    """Wraps a component runner and keeps every call's inputs and outputs."""

    def __init__(self, runner) -> None:
        self.runner = runner
        self.calls: list[tuple[list[torch.Tensor], list[torch.Tensor]]] = []

    def __call__(self, inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        outputs = self.runner(inputs)
        self.calls.append(([x.clone() for x in inputs], [y.clone() for y in outputs]))
        return outputs


def write_golden(bundle: str | Path, output: str | Path | None = None, prompt: str = DEFAULT_PROMPT, seed: int = 0,
                 runtime: str | None = None, overwrite: bool = False) -> Path:
    """Run ``bundle`` once from Python and write its golden vectors to ``output`` (default ``BUNDLE/golden``)."""
    from mobilevid.export.bundle_runtime import BundlePipeline

    if not prompt.strip():
        raise MobilevidError("empty prompt: give a text description")
    check_seed(seed)
    bundle = Path(bundle)
    output = Path(output) if output is not None else bundle / "golden"
    check_output_dir(output, overwrite, INDEX_NAME, "golden folder")  # before loading any model
    pipe = BundlePipeline(bundle, runtime)  # checks the manifest and loads the models before anything is written
    capability = torch.backends.cpu.get_cpu_capability()
    with atomic_dir(output, overwrite=overwrite, marker=INDEX_NAME, what="golden folder") as tmp:
        files = _TensorFiles(tmp)
        tokens = []
        for i, text in enumerate(TOKEN_PROMPTS):
            ids, mask = pipe.tokenize(text)
            tokens.append({"prompt": text, "input_ids": files.add(f"tokens.{i}.input_ids", ids[0]),
                           "attention_mask": files.add(f"tokens.{i}.attention_mask", mask[0])})
        shape = list(pipe.manifest.noise.shape)
        noise = []
        for noise_seed, draws in NOISE_SEEDS:
            generator = torch.Generator().manual_seed(noise_seed)
            values = torch.cat([draw_noise([generator], shape).flatten() for _ in range(draws)])
            noise.append({"seed": noise_seed, "shapes": [shape] * draws, "tensor": files.add(f"noise.{noise_seed}", values)})
        run = _record_run(pipe, files, prompt, seed)
        write_json(tmp / INDEX_NAME, {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "created_by": f"mobilevid {mobilevid.__version__}",
            "torch": torch.__version__,
            "torch_cpu_capability": capability,
            "randn_kernel": randn_kernel(capability),
            "bundle": {"target": pipe.manifest.target, "quantize": pipe.manifest.quantize, "runtime": pipe.runtime},
            "tensors": files.index,
            "tokens": tokens,
            "noise": noise,
            "run": run,
        })
    return output


def _record_run(pipe, files: _TensorFiles, prompt: str, seed: int) -> dict[str, Any]:
    """One video through ``pipe`` (a ``BundlePipeline``) with every component call and sampler step recorded."""
    from mobilevid.video_io import to_uint8
    recorders = {name: _Recorder(runner) for name, runner in pipe.runners.items()}
    pipe.runners.update(recorders)
    steps: list[dict[str, Any]] = []

    def on_step(i: int, x: torch.Tensor, t: torch.Tensor, v: torch.Tensor, out: torch.Tensor) -> None:
        steps.append({"index": i, "timestep": float(t[0]), "sample": files.add(f"run.step{i}.sample", x),
                      "output": files.add(f"run.step{i}.output", out)})

    try:
        generator = prompt_generators(seed, 1)[0]
        latents = pipe.sample_latents(prompt, generator, on_step=on_step)
        frames = pipe.decode(latents)
    finally:
        pipe.runners.update({name: rec.runner for name, rec in recorders.items()})
    sampler = pipe.manifest.sampler
    den_calls = recorders["denoiser"].calls
    per_step = len(den_calls) // max(len(steps), 1)
    if len(den_calls) != per_step * len(steps) or per_step != sampler.calls_per_step:
        raise MobilevidError(f"recorded {len(den_calls)} denoiser calls for {len(steps)} steps; expected "
                             f"{sampler.calls_per_step} per step")
    for i, step in enumerate(steps):
        step["velocity_cond"] = files.add(f"run.step{i}.velocity_cond", den_calls[per_step * i][1][0])
        step["velocity_uncond"] = (files.add(f"run.step{i}.velocity_uncond", den_calls[per_step * i + 1][1][0])
                                   if per_step == 2 else None)
    texts = []
    for k, ((ids, mask), (states, pooled)) in enumerate(recorders["text_encoder"].calls):
        name = "run.text" if k == 0 else "run.null_text"
        texts.append({"prompt": prompt if k == 0 else pipe.manifest.tokenizer.null_prompt,
                      "input_ids": files.add(f"{name}.input_ids", ids), "attention_mask": files.add(f"{name}.attention_mask", mask),
                      "text_states": files.add(f"{name}.text_states", states),
                      "pooled_text": files.add(f"{name}.pooled_text", pooled)})
    decoded = recorders["vae_decoder"].calls[0][1][0]
    return {
        "prompt": prompt,
        "seed": seed,
        "sampler": sampler.type,
        "sigmas": [float(s) for s in sampler.sigmas],
        "guidance_scale": float(sampler.guidance_scale),
        "text": texts[0],
        "null_text": texts[1] if len(texts) > 1 else None,
        "initial_noise": steps[0]["sample"],  # the first step's input is the initial noise
        "steps": steps,
        "final_latents": files.add("run.final_latents", latents),
        "decoded": files.add("run.decoded", decoded),
        "frames": files.add("run.frames", torch.from_numpy(np.ascontiguousarray(to_uint8(frames)))),
    }
