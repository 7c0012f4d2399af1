"""Structured channel pruning of a module down to the shapes of a target module, through torch-pruning.

torch-pruning's ``DependencyGraph`` (Fang et al. 2023, "DepGraph: Towards Any Structural
Pruning") traces the model and groups every coupled set of channels (a residual stream with
all its readers, a ResNet's inner width, an attention block's query/key/value heads);
``tp.importance`` scores each group's channels. What is left to decide is how many channels
each group keeps, and here that comes from a target module built from the pruned config
(``pruned_config.py``), not from MetaPruner's ratio-and-rounding schedule: the counts must be
exactly the ones ``from_pretrained`` rebuilds. Channels are removed in blocks that keep the
structure valid: whole GroupNorm groups where a group is normalised, whole attention heads
where the head count falls (or the same number of dimensions from every head where one head
narrows), single channels elsewhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
import torch_pruning as tp
from diffusers.models.attention_processor import Attention
from torch import nn

from mobilevid.errors import MobilevidError
from mobilevid.models.layers import ChannelsFirstAttention, LayerNormChannels
from mobilevid.models.temporal.frame_adaptor import FrameAdaptor

logger = logging.getLogger("mobilevid.prune")

PRUNABLE_ROOTS = (nn.Conv2d, nn.Linear)


def _out_width(module: nn.Module) -> int:
    return module.weight.shape[0]


def _head_layout(model: nn.Module) -> dict[tuple[nn.Module, bool], tuple[nn.Module, int, int]]:
    """(projection layer, whether its output side) -> (attention module, heads, head width) for the head-split
    side of every attention block: the outputs of the query/key/value layers, the input of the output layer."""
    out: dict[tuple[nn.Module, bool], tuple[nn.Module, int, int]] = {}
    for module in model.modules():
        if isinstance(module, ChannelsFirstAttention):
            heads, width = module.heads, module.head_dim
            projections = (module.to_q, module.to_k, module.to_v, module.to_out)
        elif isinstance(module, Attention):
            heads, width = module.heads, module.inner_dim // module.heads
            projections = (module.to_q, module.to_k, module.to_v, module.to_out[0])
        else:
            continue
        for i, layer in enumerate(projections):
            out[(layer, i < 3)] = (module, heads, width)
    return out


def unwrapped_parameters(model: nn.Module) -> list[tuple[nn.Parameter, int]]:
    """Parameters outside standard layers, with their channel dimension (LayerNormANE weights, frame tables)."""
    found = []
    for module in model.modules():
        if isinstance(module, LayerNormChannels):
            found += [(module.weight, 0), (module.bias, 0)]
        elif isinstance(module, FrameAdaptor):
            found += [(module.frame_scale, 1), (module.frame_shift, 1)]
    return found


def _block_scores(scores: torch.Tensor, width: int, new_width: int, block: int, per_head: int | None) -> list[int]:
    """Indices to remove: the lowest-scoring blocks of ``block`` channels, or, with ``per_head``, the
    lowest-scoring ``per_head`` channels inside every head of ``block`` channels."""
    if per_head is not None:
        drop = []
        for start in range(0, width, block):
            order = scores[start:start + block].argsort()
            drop += (order[:per_head] + start).tolist()
        return sorted(drop)
    n_blocks = (width - new_width) // block
    order = scores.reshape(width // block, block).sum(dim=1).argsort()
    return sorted(i for b in order[:n_blocks].tolist() for i in range(b * block, (b + 1) * block))


def _removal_plan(group: Any, width: int, new_width: int, target_of: Callable[[nn.Module], nn.Module | None],
                  heads: dict[tuple[nn.Module, bool], tuple[nn.Module, int, int]],
                  graph: tp.DependencyGraph) -> tuple[int, int | None]:
    """(block size, per-head removal or None) for a group going from ``width`` to ``new_width`` channels."""
    for item in group:
        layer = item.dep.target.module
        if isinstance(layer, nn.GroupNorm) and layer.num_channels == width and len(item.idxs) == width:
            block = width // layer.num_groups
            target = target_of(layer)
            if target is None or new_width != block * target.num_groups:
                raise MobilevidError(f"internal: norm of {width} channels in {layer.num_groups} groups cannot "
                                     f"become {new_width} channels in whole groups")
            return block, None
    for item in group:
        key = (item.dep.target.module, graph.is_out_channel_pruning_fn(item.dep.handler))
        if key in heads and len(item.idxs) == width:
            attention, n_heads, head_width = heads[key]
            target = target_of(attention)
            if target is None:
                break
            new_heads, new_head_width = heads_of(target)
            if new_head_width == head_width and new_width == new_heads * head_width:
                return head_width, None  # whole heads
            if new_heads == n_heads and new_width == n_heads * new_head_width:
                return head_width, head_width - new_head_width  # every head narrows
            raise MobilevidError(f"internal: attention of {n_heads}x{head_width} cannot become "
                                 f"{new_heads}x{new_head_width} by removing heads or head dimensions")
    return 1, None


def _coupled_copies(graph: tp.DependencyGraph, root: nn.Module, fn: Callable, width: int) -> int:
    """How many of the root's own channels one removal takes: 2 where a chunk(2) couples halves
    (GEGLU's value and gate, a scale/shift head), else 1. Channels are then chosen in the first copy."""
    probe = graph.get_pruning_group(root, fn, [0])
    taken = sorted(i for item in probe if item.dep.target.module is root for i in item.idxs)
    copies = len(taken)
    if copies > 1 and (width % copies or taken != [j * (width // copies) for j in range(copies)]):
        raise MobilevidError(f"internal: channel 0 of a {width}-channel layer is coupled with channels {taken}")
    return copies


def heads_of(attention: nn.Module) -> tuple[int, int]:
    if isinstance(attention, ChannelsFirstAttention):
        return attention.heads, attention.head_dim
    return attention.heads, attention.inner_dim // attention.heads


def prune_to_target(
    model: nn.Module,
    target: nn.Module,
    example_inputs: Any,
    forward_fn: Callable[[nn.Module, Any], torch.Tensor],
    importance: tp.importance.Importance,
    ignored_layers: list[nn.Module],
    gradients: Callable[[nn.Module], None] | None = None,
) -> nn.Module:
    """Prune ``model`` in place until every tensor has ``target``'s shape; return ``target`` holding the weights.

    ``forward_fn(model, example_inputs)`` must run every path whose channels change (the trace
    sees only those). ``gradients(model)``, if given, runs a backward pass first (Taylor importance).
    """
    names = {m: n for n, m in model.named_modules()}
    targets = dict(target.named_modules())

    def target_of(module: nn.Module) -> nn.Module | None:
        return targets.get(names.get(module, ""))

    graph = tp.DependencyGraph().build_dependency(
        model, example_inputs=example_inputs, forward_fn=forward_fn,
        unwrapped_parameters=unwrapped_parameters(model),
    )
    if gradients is not None:
        model.zero_grad(set_to_none=True)
        gradients(model)
        for p in model.parameters():  # a path the calibration loss does not reach (e.g. the visual condition)
            if p.grad is None:        # scores zero for Taylor rather than stopping it
                p.grad = torch.zeros_like(p)
    heads = _head_layout(model)
    pruned_groups = 0
    for group in graph.get_all_groups(ignored_layers=ignored_layers, root_module_types=PRUNABLE_ROOTS):
        root = group[0].dep.target.module
        twin = target_of(root)
        if twin is None:
            raise MobilevidError(f"internal: {names.get(root)} has no counterpart in the pruned model")
        width, new_width = _out_width(root), _out_width(twin)
        if new_width == width:
            continue
        fn = group[0].dep.handler
        copies = _coupled_copies(graph, root, fn, width)
        unit, new_unit = width // copies, new_width // copies
        block, per_head = _removal_plan(group, unit, new_unit, target_of, heads, graph)
        scores = importance(group)
        if scores is None:  # e.g. Taylor importance on a group that saw no gradient
            scores = torch.zeros(width)
        scores = scores.detach().float().cpu().reshape(copies, unit).sum(dim=0)
        drop = _block_scores(scores, unit, new_unit, block, per_head)
        graph.get_pruning_group(root, fn, drop).prune()
        pruned_groups += 1
    model.zero_grad(set_to_none=True)
    own = model.state_dict()
    wanted = target.state_dict()
    wrong = [k for k, v in wanted.items() if k not in own or own[k].shape != v.shape]
    if wrong:
        k = wrong[0]
        got = tuple(own[k].shape) if k in own else "missing"
        raise MobilevidError(f"internal: pruned tensor {k} is {got}, the pruned config needs {tuple(wanted[k].shape)} "
                             f"({len(wrong)} tensors differ)")
    target.load_state_dict(own)
    logger.info("pruned %d channel groups", pruned_groups)
    return target
