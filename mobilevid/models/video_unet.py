"""The video denoiser: a compact image UNet (SnapGen line) with temporal layers in searched slots.

Spatial blocks run on frames folded into the batch (B*F); temporal candidates chosen by the
arch spec run after each spatial layer (SnapGen-V, Wu et al. 2024; MagicVideo, Zhou et al.
2022). ResNet, up/downsampling and timestep blocks are diffusers' own; attention is the
ANE-friendly version in ``spatial_transformer.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.resnet import Downsample2D, ResnetBlock2D, Upsample2D
from torch import nn

from mobilevid.artifacts import load_module_weights, read_json, write_artifact
from mobilevid.config import from_dict, to_dict
from mobilevid.errors import MobilevidError
from mobilevid.models.arch_spec import parse_arch, slot_table
from mobilevid.models.conditioning import (
    FpsEmbedding,
    FrameLayoutEmbedding,
    FrameTextEmbedding,
    PositionEmbedding,
    VisualCondition,
)
from mobilevid.models.layers import MASK_VALUE, zero_module
from mobilevid.models.spatial_transformer import SpatialTransformer
from mobilevid.models.temporal import TemporalContext, build_candidate
from mobilevid.models.unet_config import VideoUNetConfig

WEIGHTS_NAME = "model.safetensors"
# Top-level modules that an image UNet (diffusers UNet2DConditionModel) does not have; see
# ``VideoUNet.new_after_inflation``.
NEW_AFTER_INFLATION = ("temporal", "text_embedding", "fps_embedding", "visual_condition", "frame_text_embedding",
                       "position_embedding", "frame_layout_embedding")


class SpatialLayer(nn.Module):
    """One ResNet block, optionally followed by a spatial transformer."""

    def __init__(self, resnet: nn.Module, attention: nn.Module | None) -> None:
        super().__init__()
        self.resnet = resnet
        self.attention = attention


class VideoUNet(nn.Module):
    """``forward(sample (B,F,C,H,W), timestep (B,) or (B,F), encoder_hidden_states (B,L,D), ...) -> (B,F,C,H,W)``.

    ``timestep`` is on diffusers' [0, 1000] scale; a per-frame (B, F) vector lets frames sit
    at different noise levels (FIFO-Diffusion's diagonal denoising). Text may be per frame too:
    ``encoder_hidden_states`` (B, F, L, D) with mask (B, F, L) and pooled text (B, F, D) gives each
    frame its own prompt (prompt schedules of long videos): spatial cross-attention and the
    per-frame text/layout codes read that frame's prompt; temporal cross-attention, which sees
    the whole window at once, reads the middle frame's.
    """

    def __init__(self, config: VideoUNetConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        chans = c.block_out_channels
        n = len(chans)
        temb = c.time_embed_dim

        self.conv_in = nn.Conv2d(c.in_channels, chans[0], 3, padding=1)
        self.time_proj = Timesteps(c.time_code_dim, c.flip_sin_to_cos, c.freq_shift)
        self.time_embedding = TimestepEmbedding(c.time_code_dim, temb, act_fn="silu")
        self.text_embedding = zero_module(nn.Linear(c.pooled_text_dim, temb))
        self.fps_embedding = FpsEmbedding(c.time_code_dim, temb) if c.fps_conditioning else None
        self.visual_condition = VisualCondition(c.in_channels, chans) if c.visual_condition else None
        self.position_embedding = PositionEmbedding(chans[0]) if c.position_embedding else None
        self.frame_text_embedding = (
            FrameTextEmbedding(c.cross_attention_dim, temb) if c.frame_text_conditioning else None
        )
        self.frame_layout_embedding = (
            FrameLayoutEmbedding(c.cross_attention_dim, chans[0], c.frame_layout_grid)
            if c.frame_layout_conditioning else None
        )

        def resnet(cin: int, cout: int) -> ResnetBlock2D:
            return ResnetBlock2D(
                in_channels=cin, out_channels=cout, temb_channels=temb, eps=c.norm_eps, groups=c.norm_num_groups
            )

        def attention(level: int) -> SpatialTransformer | None:
            if not c.attention_levels[level]:
                return None
            return SpatialTransformer(
                chans[level], c.attention_heads[level], c.cross_attention_dim, c.norm_num_groups,
                c.transformer_layers, c.multi_query, c.head_dim(level),
            )

        self.down_blocks = nn.ModuleList()
        self.downsamplers = nn.ModuleList()
        prev = chans[0]
        for level in range(n):
            layers = nn.ModuleList()
            for i in range(c.layers_per_block):
                layers.append(SpatialLayer(resnet(prev if i == 0 else chans[level], chans[level]), attention(level)))
            prev = chans[level]
            self.down_blocks.append(layers)
            last = level == n - 1
            self.downsamplers.append(
                nn.Identity() if last else Downsample2D(chans[level], use_conv=True, out_channels=chans[level], padding=1, name="op")
            )

        mid_ch = chans[-1]
        self.mid_resnet_1 = resnet(mid_ch, mid_ch)
        self.mid_attention = (
            SpatialTransformer(mid_ch, c.attention_heads[-1], c.cross_attention_dim, c.norm_num_groups,
                               c.transformer_layers, c.multi_query, c.head_dim(n - 1))
            if c.mid_block_attention else None
        )
        self.mid_resnet_2 = resnet(mid_ch, mid_ch)

        self.up_blocks = nn.ModuleList()
        self.upsamplers = nn.ModuleList()
        rev = list(reversed(chans))
        prev_out = rev[0]
        for up in range(n):
            level = n - 1 - up
            out_ch = rev[up]
            in_ch = rev[min(up + 1, n - 1)]
            layers = nn.ModuleList()
            for i in range(c.layers_per_block + 1):
                skip = in_ch if i == c.layers_per_block else out_ch
                cin = prev_out if i == 0 else out_ch
                layers.append(SpatialLayer(resnet(cin + skip, out_ch), attention(level)))
            prev_out = out_ch
            self.up_blocks.append(layers)
            last = up == n - 1
            self.upsamplers.append(nn.Identity() if last else Upsample2D(out_ch, use_conv=True, out_channels=out_ch))

        self.conv_norm_out = nn.GroupNorm(c.norm_num_groups, chans[0], eps=c.norm_eps)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(chans[0], c.out_channels, 3, padding=1)

        self.slots = slot_table(c)
        arch = parse_arch(c.arch, c)
        # One ModuleList per slot (empty when the slot holds nothing), keyed by slot index.
        self.temporal = nn.ModuleDict(
            {
                str(i): nn.ModuleList(
                    build_candidate(name, self.slots[i].channels, c.norm_num_groups, c.temporal_head_dim,
                                    c.cross_attention_dim, c.num_frames)
                    for name in names
                )
                for i, names in arch.items()
            }
        )

    # ----------------------------------------------------------------------------------------------
    def _run_slot(self, index: int, x: torch.Tensor, ctx: TemporalContext) -> torch.Tensor:
        key = str(index)
        if key in self.temporal:
            for layer in self.temporal[key]:
                x = layer(x, ctx)
        return x

    def _spatial(self, layer: SpatialLayer, x: torch.Tensor, state: dict[str, Any]) -> torch.Tensor:
        x = layer.resnet(x, state["emb"])
        if layer.attention is not None:
            x = layer.attention(x, state["text"], state["text_bias"])
        return x

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        encoder_attention_mask: torch.Tensor | None = None,
        pooled_text: torch.Tensor | None = None,
        fps: torch.Tensor | None = None,
        cond_latents: torch.Tensor | None = None,
        cond_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predict the velocity for ``sample``.

        encoder_attention_mask: (B, L) 1 for real tokens, 0 for padding. pooled_text: (B, D).
        fps: (B,). cond_latents: (B, F, C, H, W) known-frame latents with cond_mask (B, F) in {0, 1}.
        """
        b, f, _, h, w = sample.shape
        state = self._prepare(sample, timestep, encoder_hidden_states, encoder_attention_mask, pooled_text, fps,
                              cond_latents, cond_mask)
        x, skips, _, slot = self._encode(state)
        for layers, up in zip(self.up_blocks, self.upsamplers, strict=True):
            for layer in layers:
                x = torch.cat([x, skips.pop()], dim=1)
                x = self._spatial(layer, x, state)
                x = self._run_slot(slot, x, state["ctx"])
                slot += 1
            if not isinstance(up, nn.Identity):
                x = up(x)
        x = self.conv_out(self.conv_act(self.conv_norm_out(x)))
        return x.reshape(b, f, -1, h, w)

    def encoder_features(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        encoder_attention_mask: torch.Tensor | None = None,
        pooled_text: torch.Tensor | None = None,
        fps: torch.Tensor | None = None,
    ) -> list[torch.Tensor]:
        """Features (B*F, C, h, w) at the end of every down level and after the mid block.

        The distillation discriminator uses the frozen teacher's encoder as its feature
        network (SnapGen-V, LADD).
        """
        state = self._prepare(sample, timestep, encoder_hidden_states, encoder_attention_mask, pooled_text, fps)
        return self._encode(state)[2]

    def _prepare(self, sample, timestep, encoder_hidden_states, encoder_attention_mask=None, pooled_text=None,
                 fps=None, cond_latents=None, cond_mask=None) -> dict[str, Any]:
        b, f, ch, h, w = sample.shape
        if f > self.config.num_frames:
            raise ValueError(f"model holds at most {self.config.num_frames} frames, got {f}")
        t = torch.as_tensor(timestep, device=sample.device)
        t = t.reshape(-1, 1).expand(b, f) if t.dim() <= 1 else t
        emb = self.time_embedding(self.time_proj(t.reshape(b * f)).to(sample.dtype))  # (B*F, temb)
        per_frame_text = encoder_hidden_states.dim() == 4  # (B, F, L, D): one prompt per frame
        clip_emb = 0
        if pooled_text is not None:
            pooled_emb = self.text_embedding(pooled_text)  # (B, temb) or per frame (B, F, temb)
            clip_emb = clip_emb + (pooled_emb if pooled_emb.dim() == 3 else pooled_emb[:, None])
        if fps is not None and self.fps_embedding is not None:
            clip_emb = clip_emb + self.fps_embedding(fps.reshape(b))[:, None]
        if not isinstance(clip_emb, int):
            emb = (emb.reshape(b, f, -1) + clip_emb).reshape(b * f, -1)
        if self.frame_text_embedding is not None:
            frame_emb = self.frame_text_embedding(encoder_hidden_states, encoder_attention_mask, f)
            emb = (emb.reshape(b, f, -1) + frame_emb).reshape(b * f, -1)

        # Text tokens in the (N, D, 1, L) layout: one copy per clip for temporal layers, per frame for spatial ones.
        bias_clip = bias_frames = None
        if per_frame_text:
            text_frames = encoder_hidden_states.reshape(b * f, *encoder_hidden_states.shape[2:]).transpose(1, 2)
            text_frames = text_frames.unsqueeze(2)
            text_clip = text_frames.reshape(b, f, *text_frames.shape[1:])[:, f // 2]
            if encoder_attention_mask is not None:
                bias_frames = ((1 - encoder_attention_mask.to(sample.dtype)) * MASK_VALUE).reshape(b * f, 1, 1, -1)
                bias_clip = bias_frames.reshape(b, f, 1, 1, -1)[:, f // 2]
        else:
            text_clip = encoder_hidden_states.transpose(1, 2).unsqueeze(2)
            text_frames = text_clip.repeat_interleave(f, dim=0)
            if encoder_attention_mask is not None:
                bias_clip = ((1 - encoder_attention_mask.to(sample.dtype)) * MASK_VALUE).reshape(b, 1, 1, -1)
                bias_frames = bias_clip.repeat_interleave(f, dim=0)
        visual = None
        if cond_latents is not None and self.visual_condition is not None:
            if cond_mask is None:
                raise ValueError("cond_latents needs cond_mask (B, F)")
            visual = self.visual_condition(cond_latents.reshape(b * f, ch, h, w), cond_mask.reshape(b * f))
        x = self.conv_in(sample.reshape(b * f, ch, h, w))
        if self.position_embedding is not None:
            x = x + self.position_embedding(h, w, x)
        if self.frame_layout_embedding is not None:
            x = x + self.frame_layout_embedding(encoder_hidden_states, encoder_attention_mask, f, h, w)
        return {
            "x": x,
            "emb": emb,
            "text": text_frames,
            "text_bias": bias_frames,
            "ctx": TemporalContext(num_frames=f, text=text_clip, text_bias=bias_clip),
            "visual": visual,
        }

    def _encode(self, state: dict[str, Any]) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor], int]:
        """Down blocks and mid block: (x, skips, per-level features, next slot index)."""
        x = state["x"]
        skips = [x]
        features = []
        slot = 0
        for level, (layers, down) in enumerate(zip(self.down_blocks, self.downsamplers, strict=True)):
            for layer in layers:
                x = self._spatial(layer, x, state)
                x = self._run_slot(slot, x, state["ctx"])
                slot += 1
                skips.append(x)
            if state["visual"] is not None:
                scale, shift = state["visual"][level]
                x = x * (1 + scale) + shift
            features.append(x)
            if not isinstance(down, nn.Identity):
                x = down(x)
                skips.append(x)
        x = self.mid_resnet_1(x, state["emb"])
        if self.mid_attention is not None:
            x = self.mid_attention(x, state["text"], state["text_bias"])
        x = self.mid_resnet_2(x, state["emb"])
        x = self._run_slot(slot, x, state["ctx"])
        features.append(x)
        return x, skips, features, slot + 1

    # ----------------------------------------------------------------------------------------------
    @staticmethod
    def new_after_inflation(name: str) -> bool:
        """Whether parameter or buffer ``name`` belongs to a module an image UNet does not have.

        The one list of those modules: inflation leaves them at their initialisation, a fine-tune
        may add them to a trained denoiser (``init_from``), and a frozen backbone leaves them
        trainable. Each starts as identity (a zero-initialised output), so adding one keeps the
        model's output unchanged (AnimateDiff / SnapGen-V inflation).
        """
        return name.split(".", 1)[0] in NEW_AFTER_INFLATION

    def spatial_parameters(self) -> list[nn.Parameter]:
        """Parameters of the image backbone: every parameter not ``new_after_inflation``."""
        return [p for n, p in self.named_parameters() if not self.new_after_inflation(n)]

    def freeze_backbone(self, frozen: bool = True) -> None:
        """Freeze the image backbone so only the new modules train (diffusers' ``freeze_unet2d_params``)."""
        for p in self.spatial_parameters():
            p.requires_grad_(not frozen)

    def save_pretrained(self, path: str | Path, extra_json: dict[str, Any] | None = None,
                        overwrite: bool = False) -> Path:
        """Write ``config.json`` + ``model.safetensors`` atomically (``overwrite`` replaces an earlier one)."""
        return write_artifact(path, to_dict(self.config), {WEIGHTS_NAME: self.state_dict()}, extra_json, overwrite)

    @classmethod
    def from_config_file(cls, path: str | Path) -> VideoUNet:
        config = from_dict(VideoUNetConfig, read_json(Path(path) / "config.json"))
        return cls(config)

    @classmethod
    def from_pretrained(cls, path: str | Path) -> VideoUNet:
        """Load a denoiser folder (``config.json`` + ``model.safetensors``), validating every tensor."""
        path = Path(path)
        if not path.is_dir():
            raise MobilevidError(f"model folder not found: {path}")
        model = cls.from_config_file(path)
        load_module_weights(model, path / WEIGHTS_NAME)
        return model

    @classmethod
    def from_image_unet(cls, path: str | Path, arch: Any = None, **overrides: Any) -> VideoUNet:
        """Inflate a local diffusers ``UNet2DConditionModel`` folder (see ``inflate.py``)."""
        from mobilevid.models.inflate import inflate_image_unet

        return inflate_image_unet(path, arch=arch, **overrides)
