"""The fused path on CPU: torch's one-pass ``_fused_adagrad_`` kernel, fed tensors it is correct for.

(It serves the other non-CUDA devices torch has the kernel for the same way; on CUDA the fused
path is the Triton kernel. torch < 2.4 has no such kernel: a clear RuntimeError, see
:func:`~adagrad.impl.common.fused_kernel_missing_error`.)

``torch._fused_adagrad_`` on CPU walks raw memory as if every tensor were contiguous: given a
transposed parameter or a strided gradient it silently updates the wrong elements (measured on
torch 2.13.0+cpu). Its vectorised body also rounds ``clr``, ``eps`` and ``weight_decay`` to a
float16/bfloat16 parameter's dtype, and float16 cannot hold the default ``eps=1e-10``
(divergence D3). So:

- float32/float64 triples that are all contiguous go to the kernel as they are (the fast path);
- any other triple is run through float32 (or float64) contiguous copies and copied back, so the
  arithmetic happens in float32 and each result is rounded to float16/bfloat16 exactly once,
  and any strides give the values the contiguous tensors would.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .common import (
    advance_steps,
    check_fusable,
    fused_kernel_missing_error,
    group_by_device_and_dtype,
    has_fused_kernel,
)
from .copies import NO_COPIES, WorkingCopies, compute_dtype, finish_fused

__all__ = ["fused_cpu_adagrad"]

_KERNEL_DTYPES = (torch.float32, torch.float64)


def _kernel_ready(
    ps: list[Tensor], gs: list[Tensor], ss: list[Tensor], dtype: torch.dtype
) -> tuple[list[Tensor], list[Tensor], list[Tensor], WorkingCopies]:
    """The kernel's param, grad and sum lists: contiguous float32/float64 copies in place of the
    triples the kernel cannot take as they are, and those copies."""
    if dtype in _KERNEL_DTYPES and all(all(map(Tensor.is_contiguous, xs)) for xs in (ps, gs, ss)):
        # The usual case, checked in bulk: thousands of small tensors cost no Python loop.
        return ps, gs, ss, NO_COPIES
    copied = [
        i
        for i, (p, g, s) in enumerate(zip(ps, gs, ss))
        if not (dtype in _KERNEL_DTYPES and p.is_contiguous() and g.is_contiguous() and s.is_contiguous())
    ]
    copies = WorkingCopies.make(
        [ps[i] for i in copied], [gs[i] for i in copied], [ss[i] for i in copied],
        dtype=compute_dtype(dtype), contiguous=True,
    )  # fmt: skip
    return (*copies.swapped_in(ps, gs, ss, copied), copies)


def fused_cpu_adagrad(
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
    """Applies one Adagrad step to CPU tensors with torch's fused CPU kernel.

    With ``grad_scale`` the gradients are unscaled in place; with a non-zero ``found_inf``
    nothing changes (parameters, sums, steps and gradients), as in torch's fused path.

    Raises:
        RuntimeError: sparse gradients, complex parameters or ``differentiable=True``; a torch
            without ``torch._fused_adagrad_``.
    """
    check_fusable(differentiable=differentiable, has_sparse_grad=has_sparse_grad, has_complex=has_complex)
    if not params:
        return
    if not has_fused_kernel():
        raise fused_kernel_missing_error(params[0].device.type)
    if isinstance(lr, Tensor):
        lr = lr.detach().reshape(())
    for (_, dtype), (ps, gs, ss, ts) in group_by_device_and_dtype(params, grads, state_sums, state_steps).items():
        kernel_ps, kernel_gs, kernel_ss, copies = _kernel_ready(ps, gs, ss, dtype)
        advance_steps(ts)
        torch._fused_adagrad_(
            kernel_ps, kernel_gs, kernel_ss, ts,
            lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps, maximize=maximize,
            grad_scale=grad_scale, found_inf=found_inf,
        )  # fmt: skip
        finish_fused(copies, ts, grad_scale=grad_scale, found_inf=found_inf)
