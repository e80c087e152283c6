"""The foreach path: ``torch._foreach_*`` ops over lists grouped by (device, dtype).

Compared with torch's foreach Adagrad it makes fewer passes over memory:

- the ``-clr`` scaling is folded into the final ``_foreach_addcdiv_`` (one scalar per tensor)
  instead of a separate ``_foreach_mul`` pass over the gradients;
- the work is cut into batches of about :data:`BATCH_ELEMENTS` elements (large tensors are cut
  into slices), and all four ops run on one batch before the next, so the denominator and the
  accumulator written by one op are still in cache when the next op reads them.

float16/bfloat16 batches are computed in float32 and rounded once, as in the for-loop path.
Each element sees exactly the ops of the for-loop path (``addcmul_``, ``sqrt``, ``add_(eps)``,
``addcdiv_`` with ``value=-clr``), so on CPU the two paths give bitwise equal results.

DTensor parameters (FSDP2) are updated through their local shards (see
:func:`~adagrad.impl.common.local_shards`), never sliced as DTensors: a slice of a sharded
DTensor is a replicated copy, and in-place updates of it would be lost.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from .common import (
    advance_steps,
    group_by_device_and_dtype,
    local_shards,
    negative_decayed_lrs,
    step_values,
)
from .copies import HALF_DTYPES, upcast
from .for_loop import for_loop_adagrad

__all__ = ["BATCH_ELEMENTS", "foreach_adagrad"]

#: Elements per batch. The five arrays of a batch (param, grad, sum, denominator, gradient copy)
#: take 5 MiB in float32: they stay in a server's last-level cache between the four ops, while
#: each op is still long enough to amortise ATen's per-op and thread start-up cost (measured on
#: a 2-core EPYC: 2**15 was slower than 2**18 on one 4M-element tensor).
BATCH_ELEMENTS = 1 << 18


def foreach_adagrad(
    params: list[Tensor],
    grads: list[Tensor],
    state_sums: list[Tensor],
    state_steps: list[Tensor],
    *,
    lr: float | Tensor,
    weight_decay: float,
    lr_decay: float,
    eps: float,
    maximize: bool,
    differentiable: bool,
    has_sparse_grad: bool,
    has_complex: bool,
    grad_scale: Tensor | None,
    found_inf: Tensor | None,
) -> None:
    """Applies one Adagrad step with multi-tensor ops (same arguments as the for-loop path).

    A (device, dtype) group that holds a sparse gradient goes through the for-loop path, as in
    torch. DTensors are updated through their local tensors; a DTensor whose gradient or
    accumulator is laid out differently (or holds a pending reduction) goes through the for-loop
    path, which works on the DTensors themselves (the results are the same: both paths run the
    same ops on every element).

    Raises:
        AssertionError: ``differentiable=True`` (foreach ops have no autograd), with torch's
            type and message (a drop-in replacement refuses as torch does).
        RuntimeError: ``grad_scale`` / ``found_inf`` given.
    """
    if differentiable:
        raise AssertionError("_foreach ops don't support autograd")  # torch's refusal, word for word
    if grad_scale is not None or found_inf is not None:
        raise RuntimeError("grad_scale and found_inf are only supported by the fused path")
    if not params:
        return
    params, grads, state_sums, others = local_shards(params, grads, state_sums)
    if others:
        for_loop_adagrad(
            [params[i] for i in others], [grads[i] for i in others],
            [state_sums[i] for i in others], [state_steps[i] for i in others],
            lr=lr, weight_decay=weight_decay, lr_decay=lr_decay, eps=eps, maximize=maximize,
            differentiable=False, has_sparse_grad=has_sparse_grad, has_complex=has_complex,
            grad_scale=None, found_inf=None,
        )  # fmt: skip
        skip = set(others)
        rest = [i for i in range(len(params)) if i not in skip]
        params, grads, state_sums, state_steps = (
            [xs[i] for i in rest] for xs in (params, grads, state_sums, state_steps)
        )
        if not params:
            return
    grouped = group_by_device_and_dtype(params, grads, state_sums, state_steps)
    for device_params, device_grads, device_sums, device_steps in grouped.values():
        if has_sparse_grad and any(g.is_sparse for g in device_grads):
            for_loop_adagrad(
                device_params, device_grads, device_sums, device_steps,
                lr=lr, weight_decay=weight_decay, lr_decay=lr_decay, eps=eps,
                maximize=maximize, differentiable=False, has_sparse_grad=True,
                has_complex=has_complex, grad_scale=None, found_inf=None,
            )  # fmt: skip
            continue
        if has_complex:
            device_params = [_as_real(t) for t in device_params]
            device_grads = [_as_real(t) for t in device_grads]
            device_sums = [_as_real(t) for t in device_sums]
        advance_steps(device_steps)
        minus_clrs = negative_decayed_lrs(lr, lr_decay, step_values(device_steps))
        for p, g, s, c in _batches(device_params, device_grads, device_sums, minus_clrs):
            _update_batch(p, g, s, c, weight_decay=weight_decay, eps=eps, maximize=maximize)


def _update_batch(
    params: list[Tensor],
    grads: list[Tensor],
    sums: list[Tensor],
    minus_clrs: list[float],
    *,
    weight_decay: float,
    eps: float,
    maximize: bool,
) -> None:
    """The four passes of one batch: accumulate, sqrt, add eps, scaled divide-and-add."""
    if params and params[0].dtype in HALF_DTYPES:
        # As in the for-loop: float32 arithmetic, one rounding per stored result (D3).
        work = upcast(params, grads, sums)
        _update_batch(work.work_params, work.work_grads, work.work_sums, minus_clrs,
                      weight_decay=weight_decay, eps=eps, maximize=maximize)  # fmt: skip
        work.write_back()
        return
    if maximize:
        grads = torch._foreach_neg(grads)
        if weight_decay != 0:
            torch._foreach_add_(grads, params, alpha=weight_decay)  # reuse the negated copy
    elif weight_decay != 0:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
    torch._foreach_addcmul_(sums, grads, grads, value=1)
    std = torch._foreach_sqrt(sums)
    torch._foreach_add_(std, eps)
    torch._foreach_addcdiv_(params, grads, std, minus_clrs)


def _batches(
    params: list[Tensor], grads: list[Tensor], sums: list[Tensor], minus_clrs: list[float]
) -> Iterator[tuple[list[Tensor], list[Tensor], list[Tensor], list[float]]]:
    """Yields cache-sized batches of (slices of) the tensors, with their ``-clr``."""
    batch: tuple[list[Tensor], list[Tensor], list[Tensor], list[float]] = ([], [], [], [])
    size = 0
    for p, g, s, c in zip(params, grads, sums, minus_clrs):
        for piece in _slices(p, g, s):
            for out, item in zip(batch, (*piece, c)):
                out.append(item)
            size += piece[0].numel()
            if size >= BATCH_ELEMENTS:
                yield batch
                batch, size = ([], [], [], []), 0
    if batch[0]:
        yield batch


def _slices(p: Tensor, g: Tensor, s: Tensor) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """Cuts one (param, grad, sum) triple into views of about BATCH_ELEMENTS elements."""
    n = p.numel()
    if n <= 2 * BATCH_ELEMENTS or type(p) not in (Tensor, torch.nn.Parameter):
        # Small, or a tensor subclass (a DTensor that reached here): a slice of a subclass need
        # not be a view, so it is never sliced.
        yield p, g, s
        return
    if p.is_contiguous() and g.is_contiguous() and s.is_contiguous():
        p, g, s = p.view(-1), g.view(-1), s.view(-1)
        step = BATCH_ELEMENTS
    elif p.dim() > 0 and p.shape[0] > 1:
        # Any strides: slicing along dim 0 keeps every view's layout valid.
        step = max(1, BATCH_ELEMENTS // max(1, n // p.shape[0]))
    else:
        yield p, g, s
        return
    for start in range(0, p.shape[0], step):
        length = min(step, p.shape[0] - start)
        yield p.narrow(0, start, length), g.narrow(0, start, length), s.narrow(0, start, length)


def _as_real(t: Tensor) -> Tensor:
    return torch.view_as_real(t) if torch.is_complex(t) else t
