"""The for-loop path: one tensor at a time, with the same ATen ops in the same order as torch's.

It is the only path for sparse gradients and for ``differentiable=True``, and for float32 /
float64 dense tensors it is bitwise equal to ``torch.optim.Adagrad(foreach=False)``: the
accumulator is ``sum.addcmul_(g, g, value=1)``, the denominator ``sqrt(sum).add_(eps)`` and the
update ``param.addcdiv_(g, std, value=-clr)``, so every element sees the same roundings.
float16/bfloat16 tensors are updated in float32 and rounded once (unlike torch, whose float16
update turns ``eps=1e-10`` into 0: divergence D3).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .common import SPARSE_WEIGHT_DECAY_ERROR
from .copies import HALF_DTYPES, upcast

__all__ = ["for_loop_adagrad"]


def for_loop_adagrad(
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
    """Applies one Adagrad step to each parameter in turn (dense, sparse, complex).

    Args:
        params: parameters, updated in place.
        grads: their gradients (dense or sparse COO); never modified.
        state_sums: accumulators, updated in place.
        state_steps: 0-dim step counters, incremented in place.
        lr, weight_decay, lr_decay, eps, maximize: hyperparameters (spec R1-R8).
        differentiable: keep the computation on the autograd tape (out-of-place denominator).
        has_sparse_grad, has_complex: hints; this path handles both without them.
        grad_scale, found_inf: GradScaler tensors; only the fused path accepts them.

    Raises:
        RuntimeError: a sparse gradient with ``weight_decay != 0`` (spec R10), raised before any
            state changes; or ``grad_scale`` / ``found_inf`` given.
    """
    if grad_scale is not None or found_inf is not None:
        raise RuntimeError("grad_scale and found_inf are only supported by the fused path")
    if weight_decay != 0 and has_sparse_grad and any(g.is_sparse for g in grads):
        # Raised before any step advances, unlike torch (divergence D4: state is untouched).
        raise RuntimeError(SPARSE_WEIGHT_DECAY_ERROR)
    for param, grad, state_sum, step_t in zip(params, grads, state_sums, state_steps):
        step_t += 1
        step = step_t.item()
        # A tensor lr is divided in its own dtype, as torch does, so both round clr alike.
        clr = lr / (1 + (step - 1) * lr_decay)
        if grad.is_sparse:
            _sparse_update(param, grad, state_sum, clr=clr, eps=eps, maximize=maximize)
        elif param.dtype in HALF_DTYPES:
            # float16 cannot hold eps=1e-10 and squares underflow (D3): compute in float32,
            # round each result once when it is stored back.
            work = upcast([param], [grad], [state_sum])
            _dense_update(work.work_params[0], work.work_grads[0], work.work_sums[0], clr=clr, eps=eps,
                          weight_decay=weight_decay, maximize=maximize,
                          differentiable=differentiable)  # fmt: skip
            work.write_back()
        else:
            _dense_update(param, grad, state_sum, clr=clr, eps=eps, weight_decay=weight_decay,
                          maximize=maximize, differentiable=differentiable)  # fmt: skip


def _dense_update(
    param: Tensor, grad: Tensor, state_sum: Tensor, *, clr: float | Tensor, eps: float,
    weight_decay: float, maximize: bool, differentiable: bool,
) -> None:  # fmt: skip
    """The dense update, op for op as torch's for-loop does it (hence bitwise equal)."""
    if maximize:
        grad = torch.neg(grad)
    if weight_decay != 0:
        grad = grad.add(param, alpha=weight_decay)
    if torch.is_complex(param):
        # Real and imaginary parts are independent elements with their own sums (R11).
        param = torch.view_as_real(param)
        grad = torch.view_as_real(grad)
        state_sum = torch.view_as_real(state_sum)
    state_sum.addcmul_(grad, grad, value=1)
    if differentiable:
        # Out of place: an in-place add on sqrt's output would break its backward.
        std = state_sum.sqrt() + eps
    else:
        std = state_sum.sqrt().add_(eps)
    param.addcdiv_(grad, std, value=-clr)


def _sparse_update(
    param: Tensor, grad: Tensor, state_sum: Tensor, *, clr: float | Tensor, eps: float,
    maximize: bool,
) -> None:  # fmt: skip
    """Updates only the rows a sparse COO gradient names (spec R9)."""
    if maximize:
        grad = torch.neg(grad)
    # The update is non-linear in g, so duplicate indices must be summed before squaring.
    grad = grad.coalesce()
    if grad._nnz() == 0:
        # No rows: nothing changes. (Returning here also spares older torch versions, 2.0.1
        # among them, whose sparse_mask crashed on an empty gradient.)
        return
    indices = grad._indices()
    values = grad._values()
    size = grad.size()
    state_sum.add_(torch.sparse_coo_tensor(indices, values.pow(2), size))
    std_values = state_sum.sparse_mask(grad)._values().sqrt_().add_(eps)
    step = torch.sparse_coo_tensor(indices, values / std_values, size)
    param.add_(step, alpha=-clr)
