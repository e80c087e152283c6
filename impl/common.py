"""Helpers shared by the three update paths: grouping, step counts, learning rates, errors.

Nothing here touches optimizer state beyond reading step counts; every function is pure apart
from :func:`advance_steps`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "FUSED_DIFFERENTIABLE_ERROR",
    "FUSED_SPARSE_COMPLEX_ERROR",
    "SPARSE_WEIGHT_DECAY_ERROR",
    "advance_steps",
    "check_fusable",
    "group_by_device_and_dtype",
    "negative_decayed_lrs",
    "step_values",
]

#: Messages torch 2.13 raises, kept verbatim so callers can match them with a regex.
SPARSE_WEIGHT_DECAY_ERROR = "weight_decay option is not compatible with sparse gradients"
FUSED_SPARSE_COMPLEX_ERROR = "`fused` does not support sparse grad or complex param"
FUSED_DIFFERENTIABLE_ERROR = "`fused` does not support `differentiable`"


def group_by_device_and_dtype(
    *lists: Sequence[Tensor],
) -> dict[tuple[torch.device, torch.dtype], tuple[list[Tensor], ...]]:
    """Splits parallel tensor lists by the (device, dtype) of the first list.

    Args:
        *lists: parallel lists (params first, then grads, sums, steps...).

    Returns:
        ``{(device, dtype): (sublist_0, sublist_1, ...)}`` in first-seen order. With a single
        group the caller's lists are returned as they are; callers must not mutate them.
    """
    first = lists[0][0] if lists[0] else None
    if first is not None:
        device, dtype = first.device, first.dtype
        if all(p.dtype == dtype and p.device == device for p in lists[0]):
            # The usual case, one group: no copying of the lists.
            return {(device, dtype): tuple(list(x) if not isinstance(x, list) else x for x in lists)}
    groups: dict[tuple[torch.device, torch.dtype], tuple[list[Tensor], ...]] = {}
    for i, p in enumerate(lists[0]):
        key = (p.device, p.dtype)
        bucket = groups.get(key)
        if bucket is None:
            bucket = groups[key] = tuple([] for _ in lists)
        for out, src in zip(bucket, lists):
            out.append(src[i])
    return groups


def advance_steps(state_steps: list[Tensor]) -> None:
    """Adds one to every step counter (in place, one call for the whole list)."""
    if state_steps:
        torch._foreach_add_(state_steps, 1.0)


def step_values(state_steps: list[Tensor]) -> list[float]:
    """The step counters as Python floats, read with one host transfer where possible."""
    if len(state_steps) > 4:
        first = state_steps[0]
        if all(s.device == first.device and s.dtype == first.dtype for s in state_steps):
            # One stack + tolist costs far less than one .item() per tensor for long lists.
            return torch.stack(state_steps).tolist()
    return [s.item() for s in state_steps]


def negative_decayed_lrs(lr: float | Tensor, lr_decay: float, steps: list[float]) -> list[float]:
    """``-lr / (1 + (t - 1) * lr_decay)`` for each step count t (spec R3).

    A tensor ``lr`` is divided in its own dtype, as torch does, so a float32 tensor lr gives the
    same rounded learning rate here as in torch.
    """
    denominators = [1 + (t - 1) * lr_decay for t in steps]
    if isinstance(lr, Tensor):
        lr = lr.detach().reshape(()).cpu()
        return (-lr / torch.tensor(denominators, dtype=lr.dtype)).tolist()
    return [-lr / d for d in denominators]


def check_fusable(
    grads: list[Tensor],
    params: list[Tensor],
    differentiable: bool,
    has_sparse_grad: bool,
    has_complex: bool,
) -> None:
    """Raises torch's errors for what no fused kernel serves (spec R27).

    Like torch, it trusts the caller's ``has_sparse_grad``/``has_complex`` flags (the optimizer
    computes them while gathering tensors) rather than scanning every tensor again.
    """
    if differentiable:
        raise RuntimeError("adagrad with fused=True does not support differentiable=True")
    if has_sparse_grad or has_complex:
        raise RuntimeError(FUSED_SPARSE_COMPLEX_ERROR)
