"""Export-time module swaps that keep a graph inside ExecuTorch's XNNPACK delegate.

The XNNPACK partitioner of ExecuTorch 1.5 delegates only the ops (and argument patterns)
listed under ``executorch/backends/xnnpack/partition/config``. Every op outside that list
runs on a portable kernel and splits the graph into another delegated subgraph; lowering
time grows with the number of subgraphs (each is preprocessed separately) and every break
costs a round trip at run time. In our models the breaks come from:

- ``native_group_norm`` (``nn.GroupNorm``): no XNNPACK config at all;
- ``mean.dim`` over the channel axis (``LayerNormChannels``): ``MeanDimConfig`` accepts only
  4-D inputs averaged over dims ``[2, 3]`` with ``keepdim=True`` (global average pooling);
- ``F.scaled_dot_product_attention`` with a mask: torch decomposes it with a "safe softmax"
  (``eq``/``any``/``where``/``logical_not``/``full_like``), expands the mask and the shared
  multi-query key/value (``expand_copy``) and scales with ``mul.Scalar``, none of them delegated;
- ``chunk`` in GEGLU (``split_with_sizes_copy``) and nearest upsampling (``upsample_nearest2d``;
  XNNPACK has only the bilinear config).

``make_xnnpack_friendly`` returns a copy of a model whose such modules are replaced by
numerically equivalent versions built from delegated ops only (``mean.dim`` over ``[2, 3]``,
``view_copy``, ``mul``/``sub``/``add``, ``rsqrt``, 1x1 ``convolution``, ``bmm``, ``_softmax`` on the
last dim). Parameter names do not change. The original model, training and the Core ML / ONNX
targets are untouched: this runs only before ``torch.export`` for the XNNPACK delegate.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from diffusers.models.upsampling import Upsample2D
from torch import nn

from mobilevid.models.layers import ChannelsFirstAttention, GEGLUFeedForward, LayerNormChannels


class XnnpackGroupNorm(nn.Module):
    """``nn.GroupNorm`` from per-channel spatial means (XNNPACK global average pooling).

    The group mean is the mean of its channels' means (every channel has the same number of
    elements), so the statistics need only ``mean.dim`` over ``[2, 3]`` of a 4-D tensor (what
    ``MeanDimConfig`` accepts) and a grouped 1x1 convolution with weights 1/(C/G) that
    averages the C/G channel means of each group and hands the result back to every channel
    of the group (``expand_copy`` would not be delegated). Two passes (mean, then mean of the
    squared deviations) as ``native_group_norm`` does; eps rides in the second conv's bias.
    Few ops on purpose: lowering time grows with the node count, and the tensors stay in
    XNNPACK's channels-last layout (no reshape of the activation).
    ``weight`` and ``bias`` are stored as (C, 1, 1) so they broadcast without a view node.
    """

    def __init__(self, norm: nn.GroupNorm) -> None:
        super().__init__()
        c, g = norm.num_channels, norm.num_groups
        self.num_groups, self.num_channels, self.eps = g, c, norm.eps
        self.weight = nn.Parameter(norm.weight.detach().reshape(c, 1, 1).clone()) if norm.affine else None
        self.bias = nn.Parameter(norm.bias.detach().reshape(c, 1, 1).clone()) if norm.affine else None
        self.register_buffer("average", torch.full((c, c // g, 1, 1), g / c), persistent=False)
        self.register_buffer("eps_bias", torch.full((c,), float(norm.eps)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        # diffusers' attention normalises (N, C, S) tokens: give them the 4-D form mean.dim needs.
        x4 = x if x.dim() == 4 else x.reshape(shape[0], shape[1], -1, 1)
        mean = F.conv2d(x4.mean(dim=(2, 3), keepdim=True), self.average, groups=self.num_groups)
        centered = x4 - mean
        var_eps = F.conv2d((centered * centered).mean(dim=(2, 3), keepdim=True), self.average, self.eps_bias,
                           groups=self.num_groups)
        scale = torch.rsqrt(var_eps)  # (N, C, 1, 1): fold the affine weight in here, not on the big tensor
        if self.weight is not None:
            out = centered * (scale * self.weight) + self.bias
        else:
            out = centered * scale
        return out if x.dim() == 4 else out.reshape(shape)


class XnnpackLayerNormChannels(nn.Module):
    """``LayerNormChannels`` with the channel means taken by a fixed 1x1 convolution.

    ``mean.dim`` over dim 1 is not delegated; a (C -> 1) 1x1 conv with weights 1/C is, and it
    keeps the (N, C, 1, S) tensor in XNNPACK's channels-last layout (no transposes). eps rides
    in the variance conv's bias; ``weight``/``bias`` are stored as (C, 1, 1) (no view nodes).
    """

    def __init__(self, norm: LayerNormChannels) -> None:
        super().__init__()
        channels = norm.weight.shape[0]
        self.eps = norm.eps
        self.weight = nn.Parameter(norm.weight.detach().reshape(channels, 1, 1).clone())
        self.bias = nn.Parameter(norm.bias.detach().reshape(channels, 1, 1).clone())
        self.register_buffer("average", torch.full((1, channels, 1, 1), 1.0 / channels), persistent=False)
        self.register_buffer("eps_bias", torch.full((1,), float(norm.eps)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centered = x - F.conv2d(x, self.average)
        var_eps = F.conv2d(centered * centered, self.average, self.eps_bias)
        return centered * torch.rsqrt(var_eps) * self.weight + self.bias


class ExplicitAttention(nn.Module):
    """softmax(q^T k * scale + bias) v with ``bmm`` and a last-dim softmax, all delegated.

    Replaces ``F.scaled_dot_product_attention``, whose decomposition brings undelegated
    safe-softmax (``eq``/``any``/``where``/``logical_not``/``full_like``), ``mul.Scalar`` and
    mask-expansion ops. The bias is additive with finite ``MASK_VALUE`` entries, so no row is
    ever fully masked and the plain softmax equals the safe one. Takes the channels-first
    (N, h*d, 1, S) tensors that 1x1-conv projections give and returns that layout, so plain
    multi-head attention needs views and a single transpose; computing ``v @ probs^T`` gives
    the output channels-first without a transpose back. A shared (multi-query) key/value head
    is used by folding the query heads into the sequence axis instead of expanding k and v.
    """

    def __init__(self, heads: int) -> None:
        super().__init__()
        self.heads = heads

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """q: (N, h*d, 1, S); k, v: (N, hk*d, 1, L), hk dividing h; bias broadcast to (N, h, S, L) -> (N, h*d, 1, S)."""
        n, inner, _, s = q.shape
        d = inner // self.heads
        kv_heads, length = k.shape[1] // d, k.shape[3]
        r = self.heads // kv_heads  # query heads per key/value head
        b = n * kv_heads
        q = q * d**-0.5
        if r == 1:
            q = q.reshape(b, d, s).transpose(1, 2)  # (N*h, S, d)
        else:
            q = q.reshape(b, r, d, s).transpose(2, 3).reshape(b, r * s, d)
        scores = torch.bmm(q, k.reshape(b, d, length))  # (N*hk, r*S, L)
        if bias is not None:
            scores = (scores.reshape(n, self.heads, s, length) + bias).reshape(b, r * s, length)
        probs = torch.softmax(scores, dim=-1)
        out = torch.bmm(v.reshape(b, d, length), probs.transpose(1, 2))  # (N*hk, d, r*S)
        if r > 1:
            out = out.reshape(b, d, r, s).transpose(1, 2)
        return out.reshape(n, inner, 1, s)


class XnnpackChannelsFirstAttention(ChannelsFirstAttention):
    """``ChannelsFirstAttention`` with SDPA replaced by ``ExplicitAttention`` (same parameters)."""

    core: ExplicitAttention

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        context = x if context is None else context
        return self.to_out(self.core(self.to_q(x), self.to_k(context), self.to_v(context), bias))


class XnnpackAttnProcessor(AttnProcessor2_0):
    """diffusers' ``AttnProcessor2_0`` (as the VAE's mid-block attention uses it) with ``ExplicitAttention``.

    Covers the plain case (no spatial norm, no q/k norms, float or no mask); anything else
    goes back to diffusers' processor.
    """

    def __call__(self, attn: Attention, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None, *args, **kwargs
                 ) -> torch.Tensor:
        plain = (attn.spatial_norm is None and attn.norm_q is None and attn.norm_k is None and not attn.norm_cross
                 and (attention_mask is None or attention_mask.is_floating_point()))
        if not plain:
            return super().__call__(attn, hidden_states, encoder_hidden_states, attention_mask, temb, *args, **kwargs)
        residual = hidden_states
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch, channel, height * width).transpose(1, 2)
        batch, length, _ = hidden_states.shape if encoder_hidden_states is None else encoder_hidden_states.shape
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, length, batch)
            attention_mask = attention_mask.view(batch, attn.heads, -1, attention_mask.shape[-1])
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        query, key, value = attn.to_q(hidden_states), attn.to_k(context), attn.to_v(context)

        def channels_first(t: torch.Tensor) -> torch.Tensor:  # (B, S, C) -> (B, C, 1, S); a view, not unsqueeze
            return t.transpose(1, 2).reshape(batch, t.shape[2], 1, t.shape[1])  # (XNNPACK: trailing dims only)

        out = attn.core(channels_first(query), channels_first(key), channels_first(value), attention_mask)
        hidden_states = out.reshape(batch, out.shape[1], -1).transpose(1, 2).to(query.dtype)  # (B, S, h*d)
        hidden_states = attn.to_out[1](attn.to_out[0](hidden_states))
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(batch, channel, height, width)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


class XnnpackGEGLU(GEGLUFeedForward):
    """``GEGLUFeedForward`` with ``chunk`` written as two channel slices (``slice_copy`` is delegated)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj_in(x)
        inner = y.shape[1] // 2
        return self.proj_out(y[:, :inner] * F.gelu(y[:, inner:]))


class NearestUpsample2x(nn.Module):
    """Nearest-neighbour 2x upsampling as a broadcast multiply by ones and a reshape (exact)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("ones", torch.ones(1, 1, 1, 2, 1, 2), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return (x.reshape(n, c, h, 1, w, 1) * self.ones).reshape(n, c, 2 * h, 2 * w)


class XnnpackUpsample2D(Upsample2D):
    """diffusers' ``Upsample2D`` (interpolate + conv case) with ``NearestUpsample2x``."""

    upsample: NearestUpsample2x

    def forward(self, hidden_states: torch.Tensor, output_size: int | None = None, *args, **kwargs) -> torch.Tensor:
        if output_size is not None:  # an explicit size is not a plain 2x: keep diffusers' path
            return super().forward(hidden_states, output_size, *args, **kwargs)
        hidden_states = self.upsample(hidden_states)
        return self.conv(hidden_states) if self.use_conv else hidden_states


def _swap_class(module: nn.Module, cls: type[nn.Module], **children: nn.Module) -> nn.Module:
    """Re-class ``module`` in place (same parameters and names) and attach parameter-free helpers."""
    module.__class__ = cls
    for name, child in children.items():
        module.add_module(name, child)
    return module


def _friendly(module: nn.Module) -> nn.Module | None:
    """The replacement for ``module``, or None to keep it (exact types: subclasses may differ in math)."""
    kind = type(module)
    if kind is nn.GroupNorm:
        return XnnpackGroupNorm(module)
    if kind is LayerNormChannels:
        return XnnpackLayerNormChannels(module)
    if kind is ChannelsFirstAttention:
        return _swap_class(module, XnnpackChannelsFirstAttention, core=ExplicitAttention(module.heads))
    if kind is Attention and type(module.processor) is AttnProcessor2_0:  # SDPA's default 1/sqrt(d) scale
        module.add_module("core", ExplicitAttention(module.heads))
        module.set_processor(XnnpackAttnProcessor())
        return module
    if kind is GEGLUFeedForward:
        return _swap_class(module, XnnpackGEGLU)
    if (kind is Upsample2D and module.interpolate and not module.use_conv_transpose and module.norm is None
            and module.name == "conv"):
        return _swap_class(module, XnnpackUpsample2D, upsample=NearestUpsample2x())
    return None


# Sub-modules whose internals stay float in a PT2E int8 export (``XNNPACKQuantizer.set_module_type(kind,
# None)``), as ``native_group_norm`` and SDPA did before the swap: an int8 scores + bias add would
# take its range from the -1e4 mask entries, and quantizing the norm statistics only adds q/dq
# nodes. Measured on the default denoiser (w8a8): 25.4 dB, 3 delegates, about 280 s to lower
# with these kept float; 25.1 dB, about 560 s to lower and slower to run with them quantized.
FLOAT_ONLY_MODULES: tuple[type[nn.Module], ...] = (XnnpackGroupNorm, XnnpackLayerNormChannels, ExplicitAttention)


def make_xnnpack_friendly(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` with every known XNNPACK-breaking sub-module replaced; ``module`` is unchanged."""
    model = copy.deepcopy(module)
    if (root := _friendly(model)) is not None:
        return root
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            new = _friendly(child)
            if new is not None and new is not child:
                setattr(parent, name, new)
    return model
