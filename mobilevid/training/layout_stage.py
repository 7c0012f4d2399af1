"""Layout pre-fit: the text-to-layout map first learns, by regression, where each frame's content sits.

LVD (Lian et al. 2023, "LLM-grounded Video Diffusion Models") splits text-to-video into text ->
per-frame layout (boxes from an LLM) and layout -> video. Here the layout is the model's own
``FrameLayoutEmbedding`` map and it is fitted, before the denoiser stage, to the clips
themselves: a linear readout of the map must reproduce each training clip's latents average-pooled
to the map grid (mean squared error). The best such map is the mean layout of the clips with that
caption in each frame, e.g. for "a circle moving right" a blob left in frame 0 and right in frame 15.

Why a separate stage: on the tiny teacher, trained only through the
denoising loss the map never picked up the direction word in 1200 steps on the full data (the
caption explains ~10% of the clean target at t = 1, and the gradient reaching the map is tiny and
noisy), while this regression, with no denoiser in the loop, learns it in ~1 minute. The denoiser
stage then starts from the fitted map (its output conv stays zero: the model is unchanged until
it trains) and only has to learn to follow it.

The stage renders and encodes ``clips`` training clips once, in chunks saved atomically under
``OUTPUT/stages/layout/pool`` (a killed run keeps the finished chunks), then runs the shared
training loop (checkpoints, exact resume). Its output is ``OUTPUT/stages/layout/layout.safetensors``:
the map's weights, which the denoiser stage loads.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from torch import nn
from tqdm.auto import tqdm

from mobilevid.artifacts import save_tensors, write_json
from mobilevid.errors import MobilevidError
from mobilevid.models.conditioning import FrameLayoutEmbedding, pool_per_frame
from mobilevid.models.presets import ModelConfig
from mobilevid.models.text_encoder import TextEncoder
from mobilevid.models.vae import VideoVAE
from mobilevid.training.batches import step_generator, training_data
from mobilevid.training.loop import LoopSettings, run_loop
from mobilevid.training.train_config import TrainConfig

logger = logging.getLogger("mobilevid.train")

_BATCH = 1  # step_generator salt of this stage's batch draws
_CHUNK = 256  # clips per pool file


class LayoutRegressor(nn.Module):
    """A ``FrameLayoutEmbedding`` (without its output conv) and a linear readout to pooled latents."""

    def __init__(self, text_dim: int, out_channels: int, grid: int, latent_channels: int) -> None:
        super().__init__()
        self.layout = FrameLayoutEmbedding(text_dim, out_channels, grid)
        self.layout.proj.requires_grad_(False)  # stays zero: the denoiser stage trains it
        self.readout = nn.Conv2d(self.layout.map_channels, latent_channels, 1)

    def forward(self, states: torch.Tensor, mask: torch.Tensor, num_frames: int) -> torch.Tensor:
        """(B, L, D) token states -> (B, F, latent_channels, grid, grid) predicted pooled latents."""
        b, g, lay = states.shape[0], self.layout.grid, self.layout
        cells = lay.mlp(pool_per_frame(lay, states, mask, num_frames))
        out = self.readout(cells.reshape(b * num_frames, lay.map_channels, g, g))
        return out.reshape(b, num_frames, -1, g, g)


def pooled_latents(vae: VideoVAE, video: torch.Tensor, grid: int) -> torch.Tensor:
    """Pixels (B, F, 3, H, W) -> the VAE's latent means average-pooled to (B, F, C, grid, grid)."""
    z = vae.encode(video)
    b, f = z.shape[:2]
    return F.adaptive_avg_pool2d(z.flatten(0, 1), grid).reshape(b, f, z.shape[2], grid, grid)


def build_pool(acc: Accelerator, cfg: TrainConfig, model_cfg: ModelConfig, vae: VideoVAE, pool_dir: Path) -> None:
    """Render and encode ``cfg.layout.clips`` training clips into chunk files; finished chunks are kept."""
    s, grid = cfg.layout, model_cfg.denoiser.frame_layout_grid
    data = training_data(cfg.data, model_cfg, cfg.seed, cfg.data_crop, length=s.clips)
    chunks = range(0, s.clips, _CHUNK)
    mine = [c for i, c in enumerate(chunks) if i % acc.num_processes == acc.process_index]
    vae = vae.eval().to(acc.device)
    todo = [c for c in mine if not (pool_dir / f"chunk-{c:07d}.safetensors").is_file()]
    total = sum(min(_CHUNK, s.clips - c) for c in todo)
    with torch.no_grad(), tqdm(total=total, desc="layout pool", disable=not acc.is_main_process) as bar:
        for start in todo:
            latents, captions = [], []
            for i in range(start, min(s.clips, start + _CHUNK), 16):
                items = [data[j] for j in range(i, min(s.clips, start + _CHUNK, i + 16))]
                video = torch.stack([it["video"] for it in items]).to(acc.device)
                latents.append(pooled_latents(vae, video, grid).cpu())
                captions += [it["caption"] for it in items]
                bar.update(len(items))
            # The captions travel in the file's metadata: one atomic file per chunk, no side file to keep in step.
            save_tensors({"latents": torch.cat(latents)}, pool_dir / f"chunk-{start:07d}.safetensors",
                         metadata={"captions": "\n".join(captions)})
    acc.wait_for_everyone()


def load_pool(pool_dir: Path, clips: int) -> tuple[torch.Tensor, list[str]]:
    """All chunk files of a pool -> (latents (N, F, C, g, g), captions); one read per file."""
    from safetensors import safe_open

    latents, captions = [], []
    for start in range(0, clips, _CHUNK):
        with safe_open(str(pool_dir / f"chunk-{start:07d}.safetensors"), "pt") as f:
            captions += f.metadata()["captions"].split("\n")
            latents.append(f.get_tensor("latents"))
    return torch.cat(latents), captions


def layout_stage(acc: Accelerator, cfg: TrainConfig, model_cfg: ModelConfig, vae: VideoVAE, out: Path,
                 resume: bool) -> Path:
    """Fit the map; returns the path of its weights (``layout.*`` names of ``FrameLayoutEmbedding``)."""
    if not model_cfg.denoiser.frame_layout_conditioning:
        raise MobilevidError("the layout stage fits the layout map: set frame_layout_conditioning=true")
    s, stage_dir = cfg.layout, out / "stages" / "layout"
    result = stage_dir / "layout.safetensors"
    if resume and result.is_file():
        logger.info("layout stage already finished: %s", result)
        return result
    if s.clips < 1 or s.batch_size < 1:
        raise MobilevidError(f"layout.clips and layout.batch_size must be >= 1, got {s.clips} and {s.batch_size}")
    pool_dir = stage_dir / "pool"
    pool_dir.mkdir(parents=True, exist_ok=True)
    build_pool(acc, cfg, model_cfg, vae, pool_dir)
    latents, captions = load_pool(pool_dir, s.clips)
    text = TextEncoder(model_cfg.text_encoder, model_cfg.text_max_length)
    unique = sorted(set(captions))
    with torch.no_grad():
        states, _, mask = text.encode(unique)
    row_of = {c: i for i, c in enumerate(unique)}
    which = torch.tensor([row_of[c] for c in captions])
    d = model_cfg.denoiser
    torch.manual_seed(cfg.seed + 4)
    model = LayoutRegressor(d.cross_attention_dim, d.block_out_channels[0], d.frame_layout_grid, d.in_channels)
    baseline = float(((latents - latents.mean(0)) ** 2).mean())  # the loss of predicting the overall mean

    @torch.no_grad()
    def pool_mse(m: LayoutRegressor) -> float:
        err = sum(float(((m(states[which[i:i + 256]], mask[which[i:i + 256]], latents.shape[1])
                          - latents[i:i + 256]) ** 2).sum()) for i in range(0, len(captions), 256))
        return err / latents.numel()

    start_mse = pool_mse(model)

    def loss_fn(m: nn.Module, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        g = step_generator(cfg.seed, step, acc.process_index, _BATCH)
        rows = torch.randint(0, len(captions), (s.batch_size,), generator=g)
        c = which[rows]
        pred = m(states[c].to(acc.device), mask[c].to(acc.device), latents.shape[1])
        loss = F.mse_loss(pred, latents[rows].to(acc.device))
        return loss, {"loss_vs_mean": float(loss.detach()) / baseline}

    settings = LoopSettings("layout", s.steps, s.lr, s.warmup_steps, 0.0, 1.0, None, cfg.checkpoint_every,
                            cfg.keep_checkpoints, cfg.log_every)
    model, _ = run_loop(acc, model, loss_fn, settings, stage_dir, resume)
    if acc.is_main_process:
        save_tensors(model.layout.state_dict(), result)
        end_mse = pool_mse(model.cpu())
        write_json(stage_dir / "layout.json", {"clips": s.clips, "steps": s.steps, "mse_start": start_mse,
                                               "mse_end": end_mse, "mse_of_the_mean_clip": baseline})
        logger.info("wrote %s (pool MSE %.4f -> %.4f; predicting the mean clip: %.4f)", result, start_mse, end_mse,
                    baseline)
    acc.wait_for_everyone()
    return result
