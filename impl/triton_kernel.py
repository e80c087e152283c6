"""The fused path as one Triton kernel: a whole step for many tensors in one launch.

Every program updates one block of ``BLOCK_SIZE`` elements of one tensor. Tables on the device
give, per tensor, the addresses of its parameter, gradient, sum and step counter, its element
count and its layout, and map each program to its (tensor, first element): one launch therefore
serves every tensor of a (device, dtype) group, whatever their sizes and strides. The tables,
their named columns and their cache between steps are :mod:`adagrad.impl.triton_tables`; the
kernel's source is :mod:`adagrad.impl.triton_jit`.

Per element, in one pass (read p, g, s; write p, s; and g only when unscaling):

    g = g / grad_scale              (GradScaler; written back, as torch's fused path does)
    g = -g                          if maximize
    g = g + weight_decay * p        (fused multiply-add)
    s = s + g * g                   (fused multiply-add)
    p = p - clr * (g / (sqrt(s) + eps))

float16/bfloat16 are computed in float32 and rounded once when stored; ``sqrt`` and the division
are IEEE correctly rounded (``tl.sqrt_rn``, ``tl.div_rn``), so results do not depend on the
GPU's fast-math approximations, and the two multiply-adds above are the only fused ones
(:data:`LAUNCH_OPTIONS` turns automatic contraction off): a compiled kernel does the same IEEE
operations as Triton's CPU interpreter, so its results are the interpreter's bit for bit (the
one exception: a bfloat16 gradient unscaled by ``grad_scale`` is stored with a plain cast, which
the interpreter truncates and a GPU rounds to nearest). With a non-zero ``found_inf`` every
element is masked off and the step counters are put back: nothing changes.

Triton is imported on first use only: ``import adagrad.impl`` works without triton or CUDA. The
kernel needs triton >= 3 (:func:`triton_missing` says what an older one lacks; torch 2.0-2.3 pin
triton 2.x, so their fused CUDA steps raise a RuntimeError saying so). On CPU tensors the kernel runs only under Triton's interpreter (``TRITON_INTERPRET=1``, which must
be set before the first launch), which is how CI tests it.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import torch
from torch import Tensor

from .common import advance_steps, check_fusable, group_by_device_and_dtype
from .copies import NO_COPIES, WorkingCopies, finish_fused
from .triton_tables import HYPER_LR, MAX_DIMS, ROW, clear_table_cache, device_table, group_tables, hyper_values

__all__ = [
    "BLOCK_SIZE",
    "LAUNCH_OPTIONS",
    "MAX_DIMS",
    "TRITON_NEEDS",
    "clear_table_cache",
    "fused_triton_adagrad",
    "triton_available",
    "triton_missing",
]

#: Elements per program.
BLOCK_SIZE = 1024
#: Compile options of every launch. No automatic FMA contraction: the kernel fuses exactly the
#: operations it writes as ``tl.fma``, so a compiled kernel performs the same IEEE operations as
#: Triton's CPU interpreter (what CI runs), whatever the triton version's default.
LAUNCH_OPTIONS: dict[str, Any] = {"enable_fp_fusion": False}


#: What the kernel uses of ``triton.language`` that triton 2.x lacks (measured: triton 2.0.0 and
#: 2.3.1, the versions torch 2.0 and 2.3 pin, lack all three; 3.1.0 and 3.8.0 have them).
TRITON_NEEDS = ("div_rn", "sqrt_rn", "fma")


@functools.cache
def triton_missing() -> str | None:
    """Why this environment's triton cannot run the kernel, or None when it can."""
    try:
        import triton
        import triton.language as tl
    except ImportError:
        return "triton is not installed"
    lacking = [name for name in TRITON_NEEDS if not hasattr(tl, name)]
    if lacking:
        names = ", ".join(f"triton.language.{name}" for name in lacking)
        return f"triton {triton.__version__} has no {names} (the kernel needs triton >= 3)"
    return None


def triton_available() -> bool:
    """Whether triton is installed and can run the kernel (the kernel's only extra requirement)."""
    return triton_missing() is None


def interpreter_enabled() -> bool:
    """Whether Triton's interpreter is on, so that the kernel can run on CPU tensors."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


@functools.cache
def _kernel() -> Any:
    """Imports (so compiles, on first launch) the Triton kernel: triton is needed from here on."""
    from .triton_jit import adagrad_kernel

    return adagrad_kernel


def fused_triton_adagrad(
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
    """Applies one Adagrad step with one Triton launch per (device, dtype) group.

    Step counters must live on their parameter's device (the optimizer keeps them there for
    fused groups). On CPU tensors this needs ``TRITON_INTERPRET=1``. The kernel's tables are
    cached between steps (see :func:`clear_table_cache`).

    Raises:
        RuntimeError: sparse gradients, complex parameters, ``differentiable=True``, no triton
            that can run the kernel (:func:`triton_missing`), step counters on another device or
            of mixed dtypes, gradients or sums shaped unlike their parameter, or CPU tensors
            without Triton's interpreter. A missing or too old triton is refused before
            anything changes.
    """
    check_fusable(differentiable=differentiable, has_sparse_grad=has_sparse_grad, has_complex=has_complex)
    if not params:
        return
    missing = triton_missing()
    if missing is not None:
        raise RuntimeError(f"the fused Triton path cannot run: {missing}")
    for (device, dtype), (ps, gs, ss, ts) in group_by_device_and_dtype(params, grads, state_sums, state_steps).items():
        if device.type == "cpu" and not interpreter_enabled():
            raise RuntimeError("the Triton kernel runs on CPU tensors only with TRITON_INTERPRET=1")
        copies = _launch(ps, gs, ss, ts, device=device, dtype=dtype, lr=lr, weight_decay=weight_decay,
                         lr_decay=lr_decay, eps=eps, maximize=maximize, grad_scale=grad_scale,
                         found_inf=found_inf)  # fmt: skip
        finish_fused(copies, ts, grad_scale=grad_scale, found_inf=found_inf)


def _launch(
    ps: list[Tensor], gs: list[Tensor], ss: list[Tensor], ts: list[Tensor], *,
    device: torch.device, dtype: torch.dtype, lr: float | Tensor, weight_decay: float,
    lr_decay: float, eps: float, maximize: bool, grad_scale: Tensor | None,
    found_inf: Tensor | None, block_size: int = BLOCK_SIZE,
) -> WorkingCopies:  # fmt: skip
    """Advances the steps and launches the kernel once for one (device, dtype) group.

    Returns the contiguous copies the kernel updated in place of tensors with more than
    :data:`MAX_DIMS` collapsed dimensions, for :func:`~adagrad.impl.copies.finish_fused`.
    """
    tables = group_tables(ps, gs, ss, ts, device, dtype, block_size)
    if not tables.n_blocks:
        advance_steps(ts)  # only empty tensors: nothing to launch, but the steps count
        return NO_COPIES
    copies = NO_COPIES
    if tables.copied:
        idx = tables.copied
        copies = WorkingCopies.make([ps[i] for i in idx], [gs[i] for i in idx], [ss[i] for i in idx],
                                    dtype=dtype, contiguous=True)  # fmt: skip
        ps, gs, ss = copies.swapped_in(ps, gs, ss, idx)
    table = device_table(tables, ps, gs, ss, ts, device)
    advance_steps(ts)  # after every check: a step that raises changes nothing
    if isinstance(lr, Tensor):
        hyper = torch.tensor(hyper_values(0.0, lr_decay, weight_decay, eps), dtype=torch.float64).to(device)
        hyper[HYPER_LR].copy_(lr.detach().reshape(()))  # device to device: no host sync
    else:
        key = hyper_values(lr, lr_decay, weight_decay, eps)
        if tables.hyper is None or tables.hyper_key != key:
            tables.hyper_key = key
            tables.hyper = torch.tensor(key, dtype=torch.float64).to(device)
        hyper = tables.hyper
    step_dtype = ts[0].dtype
    stand_ins = tables.stand_ins.get(step_dtype)
    if stand_ins is None:
        # Tiny tensors that only carry the element and step pointer types (and an unused scale).
        stand_ins = tables.stand_ins[step_dtype] = (
            torch.empty(1, dtype=dtype, device=device),
            torch.empty(1, dtype=step_dtype, device=device),
            torch.zeros(1, dtype=torch.float32, device=device),
        )
    elem_like, step_like, dummy = stand_ins
    compute = "fp64" if dtype == torch.float64 else "fp32"
    _kernel()[(tables.n_blocks,)](
        table, tables.blocks, hyper,
        grad_scale.to(device) if grad_scale is not None else dummy,
        found_inf.to(device) if found_inf is not None else dummy,
        elem_like, step_like,
        MAXIMIZE=maximize, HAS_WD=weight_decay != 0, HAS_SCALE=grad_scale is not None,
        HAS_INF=found_inf is not None, COMPUTE=_tl_dtype(compute),
        IS_FP64=compute == "fp64", IS_BF16=dtype == torch.bfloat16, ROW=ROW, BLOCK=block_size,
        **LAUNCH_OPTIONS,
    )  # fmt: skip
    return copies


def _tl_dtype(name: str) -> Any:
    import triton.language as tl

    return tl.float64 if name == "fp64" else tl.float32
