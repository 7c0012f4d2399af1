"""How much a model uses each word of its caption: the rise of its loss when that word is swapped.

Sampling-based scores (``mobilevid eval``) say whether a video shows the right colour or
direction, but not why it fails: a model that ignores the word "left" and one that draws
it badly score alike. This probe reads the training objective instead: on real clips with
fixed noise and noise levels, the flow-matching loss with the true caption is compared with
the loss when one attribute in the caption (colour, shape, digit, direction) is replaced by
another value. A model that uses the word predicts worse with the wrong one; a gain of 0
means the word is ignored. Comparing a diffusion model's denoising error under different
captions is how Diffusion Classifier (Li et al., ICCV 2023) and Clark & Jaini (NeurIPS 2023)
read zero-shot class decisions out of text-to-image models; here it measures which caption
attributes a model has learned. Cheap enough to run on every checkpoint of a training run.

    python benchmarks/caption_use.py --model teacher --model default [--model DIR ...] [--clips 12]

Same clips, noise and noise levels for every model and caption variant. A gain of 0 means the
model ignores that word; +0.10 means its loss is 10% higher with the wrong word.
"""

from __future__ import annotations

from typing import Any

import torch

from mobilevid.data import make_dataset
from mobilevid.errors import MobilevidError
from mobilevid.models.rectified_flow import TIMESTEP_SCALE, add_noise, flow_loss
from mobilevid.pipeline import Pipeline

from _common import benchmark_parser, markdown_table, write_results

# The swap of each attribute: a value far from the true one (the opposite direction, another colour).
_OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up"}
_SWAPS: dict[str, dict[str, Any]] = {
    "shapes": {
        "direction": ("motion", _OPPOSITE.__getitem__),
        "colour": ("color", lambda v: {"red": "blue", "blue": "red", "green": "purple", "purple": "green",
                                       "yellow": "white", "white": "yellow"}[v]),
        "shape": ("shape", lambda v: {"circle": "square", "square": "triangle", "triangle": "circle"}[v]),
    },
    "digits": {
        "direction": ("motion", _OPPOSITE.__getitem__),
        "digit": ("digit", lambda v: (v + 5) % 10),
    },
}
SUITES = tuple(_SWAPS)


@torch.no_grad()
def caption_use(pipe: Any, suite: str, clips: int = 12, times: tuple[float, ...] = (0.95, 0.8, 0.6),
                seed: int = 0) -> dict[str, dict[str, float]]:
    """``{"t=0.8": {"direction": gain, ...}, ...}`` with gain = (loss with the word swapped - true loss) / true loss.

    Uses training-split clips that move straight (so every attribute, direction included, has a
    swap), the same clips, noise and times for every caption variant.
    """
    if suite not in _SWAPS:
        raise MobilevidError(f"caption_use supports suites {', '.join(SUITES)}, got '{suite}'")
    if clips < 1:
        raise MobilevidError(f"clips must be at least 1, got {clips}")
    d = pipe.denoiser.config
    data = make_dataset(suite, "train", num_frames=d.num_frames, size=pipe.config.height, seed=seed, length=10**6)
    items, index = [], 0
    while len(items) < clips:
        if data.labels_at(index)["motion"] in _OPPOSITE:
            items.append(data[index])
        index += 1
    labels = [it["labels"] for it in items]
    variants = {"true": [data.caption(lab) for lab in labels]}  # one template for every variant
    for name, (key, swap) in _SWAPS[suite].items():
        variants[name] = [data.caption({**lab, key: swap(lab[key])}) for lab in labels]
    x0 = pipe.vae.encode(torch.stack([it["video"] for it in items])).float()
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))
    fps = torch.full((clips,), float(pipe.config.fps))
    encoded = {name: pipe.encode_prompts(captions) for name, captions in variants.items()}  # once, not per level
    out: dict[str, dict[str, float]] = {}
    for t in times:
        tt = torch.full((clips,), float(t))
        x_t = add_noise(x0, noise, tt)
        loss = {}
        for name, (states, pooled, mask) in encoded.items():
            pred = pipe.denoiser(x_t, tt * TIMESTEP_SCALE, states, encoder_attention_mask=mask, pooled_text=pooled,
                                 fps=fps)
            loss[name] = float(flow_loss(pred, x0, noise))
        out[f"t={t}"] = {name: (value - loss["true"]) / loss["true"] for name, value in loss.items() if name != "true"}
        out[f"t={t}"]["true_loss"] = loss["true"]
    return out


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="model folder or built-in name (repeatable; default: teacher)")
    parser.add_argument("--clips", type=int, default=12, help="training clips per suite (default 12)")
    args = parser.parse_args()
    models = args.model or ["teacher"]
    clips = 4 if args.quick else args.clips
    rows = []
    for model in models:
        pipe = Pipeline.from_pretrained(model)
        for suite in SUITES:
            for level, gains in caption_use(pipe, suite, clips=clips).items():
                rows.append({"model": model, "suite": suite, "noise level": level, **gains})
                print(rows[-1], flush=True)
    columns = ["model", "suite", "noise level", "true_loss", "direction", "colour", "shape", "digit"]
    print(markdown_table(rows, columns))
    print(f"\nwrote {write_results('caption_use', rows, {'clips': clips}, args.output, models={m: m for m in models})}")


if __name__ == "__main__":
    main()
