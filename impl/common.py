"""Helpers shared by the update paths: grouping, step counts, learning rates, errors,
the fused precondition, what this torch offers (device lists, kernels, ops older versions lack)
and DTensor shards.

Nothing here touches optimizer state beyond reading step counts; every function is pure apart
from :func:`advance_steps` and :func:`copy_all`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "FUSED_DIFFERENTIABLE_ERROR",
    "FUSED_SPARSE_COMPLEX_ERROR",
    "FUSED_STEP_DIFFERENTIABLE_ERROR",
    "SPARSE_WEIGHT_DECAY_ERROR",
    "advance_steps",
    "check_fusable",
    "copy_all",
    "foreach_devices",
    "fused_devices",
    "fused_kernel_missing_error",
    "group_by_device_and_dtype",
    "has_fused_kernel",
    "local_shards",
    "negative_decayed_lrs",
    "step_values",
]

#: Messages torch 2.13 raises, kept verbatim so callers can match them with a regex.
SPARSE_WEIGHT_DECAY_ERROR = "weight_decay option is not compatible with sparse gradients"
FUSED_SPARSE_COMPLEX_ERROR = "`fused` does not support sparse grad or complex param"
#: ... by the constructor, and by the fused path's step.
FUSED_DIFFERENTIABLE_ERROR = "`fused` does not support `differentiable`"
FUSED_STEP_DIFFERENTIABLE_ERROR = "adagrad with fused=True does not support differentiable=True"


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


def check_fusable(*, differentiable: bool, has_sparse_grad: bool, has_complex: bool) -> None:
    """Raises torch's errors for what no fused kernel serves (spec R27): the fused paths' one
    precondition, checked by each fused path as it starts.

    Like torch, it trusts the caller's ``has_sparse_grad``/``has_complex`` flags (the optimizer
    computes them while gathering tensors) rather than scanning every tensor again.
    """
    if differentiable:
        raise RuntimeError(FUSED_STEP_DIFFERENTIABLE_ERROR)
    if has_sparse_grad or has_complex:
        raise RuntimeError(FUSED_SPARSE_COMPLEX_ERROR)


# --- What this torch offers (older torch versions lack some of it) -------------------------------


def foreach_devices() -> tuple[str, ...]:
    """Device types on which foreach is the default path: torch's own list where it has one.

    torch >= 2.1 keeps the list in ``torch.utils._foreach_utils``; older versions defaulted to
    foreach on CUDA only.
    """
    try:
        from torch.utils._foreach_utils import _get_foreach_kernels_supported_devices
    except ImportError:
        return ("cuda",)
    return tuple(_get_foreach_kernels_supported_devices())


def fused_devices() -> tuple[str, ...]:
    """Device types ``fused=True`` accepts: torch's own list where it has one.

    On CUDA the fused path runs this package's Triton kernel; on every other device in the list,
    torch's ``_fused_adagrad_`` kernel. Without torch's list (torch < 2.2) it is CPU and CUDA.
    """
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices
    except ImportError:
        return ("cpu", "cuda")
    return tuple(_get_fused_kernels_supported_devices())


def has_fused_kernel() -> bool:
    """Whether this torch has the ``torch._fused_adagrad_`` kernel (torch >= 2.4)."""
    return hasattr(torch, "_fused_adagrad_")


def fused_kernel_missing_error(device_type: str) -> RuntimeError:
    """The error for ``fused=True`` on a device only torch's (absent) fused kernel serves."""
    return RuntimeError(
        f"fused=True for {device_type} parameters needs torch._fused_adagrad_, which torch "
        f"{torch.__version__} does not have (added in torch 2.4); use foreach=True or the "
        "default for-loop path, or a newer torch"
    )


def copy_all(dst: list[Tensor], src: list[Tensor]) -> None:
    """``dst[i].copy_(src[i])`` for every i: one ``_foreach_copy_`` call where torch has it
    (torch >= 2.1) and autograd is not recording (it has no derivative), a loop otherwise."""
    if not dst:
        return
    foreach_copy = getattr(torch, "_foreach_copy_", None)
    if foreach_copy is not None and not torch.is_grad_enabled():
        foreach_copy(dst, src)
    else:
        for d, s in zip(dst, src, strict=True):
            d.copy_(s)


# --- DTensor (FSDP2, tensor parallelism) ----------------------------------------------------------

#: Types that are certainly not DTensors (checked first, so plain training pays one type test).
_PLAIN_TYPES = (Tensor, torch.nn.Parameter)


@functools.cache
def _dtensor_type() -> type | None:
    """``DTensor``, or None where this torch has no torch.distributed or no DTensor."""
    if not torch.distributed.is_available():
        return None
    try:
        from torch.distributed.tensor import DTensor  # torch >= 2.5
    except ImportError:
        try:
            from torch.distributed._tensor import DTensor  # torch 2.0-2.4
        except ImportError:
            return None
    return DTensor


def _same_layout(tensors: tuple[Any, ...], dtensor: type) -> bool:
    """Whether these DTensors are laid out alike (same mesh, same placements, same shape) and
    hold no pending reduction, so their local tensors are matching pieces of the same elements."""
    if not all(isinstance(t, dtensor) for t in tensors):
        return False
    first = tensors[0]
    if any(placement.is_partial() for placement in first.placements):
        return False  # a pending sum: the local values are not the tensor's values
    return all(
        t.device_mesh == first.device_mesh and t.placements == first.placements and t.shape == first.shape
        for t in tensors[1:]
    )


def local_shards(
    params: list[Tensor], grads: list[Tensor], sums: list[Tensor]
) -> tuple[list[Tensor], list[Tensor], list[Tensor], list[int]]:
    """Replaces DTensors by their local tensors wherever that is exact, for the foreach and
    fused paths.

    Adagrad is element-wise, so when a parameter, its gradient and its accumulator are DTensors
    laid out alike (FSDP2's ``Shard(0)``, or ``Replicate``), updating the local tensors in place
    updates the DTensors, shard by shard, with no communication and nothing materialised. (Ops
    on the DTensors themselves are not enough: slicing a sharded DTensor, for instance, returns
    a replicated copy, so in-place updates of the slice are lost.)

    Returns:
        ``(params, grads, sums, others)``: new lists (the caller's are not changed) in which
        every exactly-localisable triple is replaced by its local tensors, and the indices of
        the DTensor triples that cannot be (different layouts, or a ``Partial`` placement),
        which are left as they are.
    """
    if all(type(p) in _PLAIN_TYPES for p in params) and all(type(s) in _PLAIN_TYPES for s in sums):
        return params, grads, sums, []
    dtensor = _dtensor_type()
    if dtensor is None:
        return params, grads, sums, []
    params, grads, sums = list(params), list(grads), list(sums)
    others: list[int] = []
    with torch.no_grad():  # without autograd, to_local() is the local tensor (or a view of it)
        for i, triple in enumerate(zip(params, grads, sums)):
            if not any(isinstance(t, dtensor) for t in triple):
                continue
            local = tuple(t.to_local() for t in triple) if _same_layout(triple, dtensor) else None
            if local is not None and all(t.shape == local[0].shape for t in local):
                # Not copies: in-place updates of the local tensors reach the DTensors.
                params[i], grads[i], sums[i] = local
            else:
                others.append(i)
    return params, grads, sums, others
