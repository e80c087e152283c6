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

__all__ = ["fused_cpu_adagrad"]

_KERNEL_DTYPES = (torch.float32, torch.float64)


def _kernel_ready(
    ps: list[Tensor], gs: list[Tensor], ss: list[Tensor], ts: list[Tensor], dtype: torch.dtype
) -> tuple[tuple[list[Tensor], ...], list[tuple[Tensor, ...]]]:
    """The kernel's argument lists, with contiguous float32/float64 copies where needed.

    Returns the lists and ``(p, g, s, p_work, g_work, s_work)`` for every copied triple.
    """
    kernel_args: tuple[list[Tensor], ...] = ([], [], [], [])
    copied: list[tuple[Tensor, ...]] = []
    for p, g, s, t in zip(ps, gs, ss, ts):
        if dtype in _KERNEL_DTYPES and p.is_contiguous() and g.is_contiguous() and s.is_contiguous():
            work = (p, g, s)
        else:
            compute = dtype if dtype in _KERNEL_DTYPES else torch.float32
            work = tuple(x.to(compute, memory_format=torch.contiguous_format, copy=True) for x in (p, g, s))
            copied.append((p, g, s, *work))
        for out, x in zip(kernel_args, (*work, t)):
            out.append(x)
    return kernel_args, copied


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
    check_fusable(grads, params, differentiable, has_sparse_grad, has_complex)
    if not params:
        return
    if not has_fused_kernel():
        raise fused_kernel_missing_error(params[0].device.type)
    if isinstance(lr, Tensor):
        lr = lr.detach().reshape(())
    for (_, dtype), (ps, gs, ss, ts) in group_by_device_and_dtype(params, grads, state_sums, state_steps).items():
        if dtype in _KERNEL_DTYPES and all(all(map(Tensor.is_contiguous, xs)) for xs in (ps, gs, ss)):
            # The usual case, checked in bulk: thousands of small tensors cost no Python loop.
            kernel_args, copied = (ps, gs, ss, ts), []
        else:
            kernel_args, copied = _kernel_ready(ps, gs, ss, ts, dtype)
        advance_steps(ts)
        torch._fused_adagrad_(
            *kernel_args,
            lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps, maximize=maximize,
            grad_scale=grad_scale, found_inf=found_inf,
        )  # fmt: skip
        for p, g, s, p_work, g_work, s_work in copied:
            p.copy_(p_work)
            s.copy_(s_work)
            if grad_scale is not None:
                g.copy_(g_work)  # the kernel unscaled the copy; the caller expects the grad unscaled
        if found_inf is not None:
            # The kernel skipped the update; the step must not count either.
            torch._foreach_sub_(ts, [found_inf.to(ts[0].device, ts[0].dtype)] * len(ts))
