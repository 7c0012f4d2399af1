"""Batching of data set items: ``DataLoader(..., collate_fn=collate)``."""

from __future__ import annotations

from typing import Any

import torch


def collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Items -> ``{"video": (B, F, 3, H, W), "caption": list[str], "labels": list[dict], "is_image": bool}``.

    With long clips in the batch also ``"stride"`` (B,) and ``"frame_captions"`` (B lists of F).

    All items must have the same frame count and be all images or all videos (an
    ``ImageVideoMix`` batch is one or the other); anything else is a ``ValueError``.
    """
    if not batch:
        raise ValueError("cannot collate an empty batch")
    flags = {bool(item.get("is_image", False)) for item in batch}
    if len(flags) > 1:
        raise ValueError("batch mixes image and video items: batch them separately "
                         "(ImageVideoMix(batch_size=B) with DataLoader(batch_size=B, shuffle=False))")
    shapes = {tuple(item["video"].shape) for item in batch}
    if len(shapes) > 1:
        raise ValueError(f"cannot stack clips of different shapes in one batch: {sorted(shapes)}")
    out = {
        "video": torch.stack([item["video"] for item in batch]),
        "caption": [item["caption"] for item in batch],
        "labels": [item.get("labels", {}) for item in batch],
        "is_image": flags.pop(),
    }
    if any("stride" in item or "frame_captions" in item for item in batch):
        # Long clips (``long_clips.py``): frames ``stride`` apart with a caption each; ordinary clips
        # in the same batch are stride 1 with their one caption on every frame.
        frames = out["video"].shape[1]
        out["stride"] = torch.tensor([int(item.get("stride", 1)) for item in batch])
        out["frame_captions"] = [list(item.get("frame_captions", [item["caption"]] * frames)) for item in batch]
    return out
