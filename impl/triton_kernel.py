"""The fused path as one Triton kernel: a whole step for many tensors in one launch.

Every program updates one block of ``BLOCK_SIZE`` elements of one tensor. A table on the device
gives, per tensor, the addresses of its parameter, gradient, sum and step counter, its element
count and its layout (up to four collapsed dimensions with a stride per operand), and a second
table maps each program to its (tensor, first element). One launch therefore serves every
tensor of a (device, dtype) group, whatever their sizes and strides.

Per element, in one pass (read p, g, s; write p, s; and g only when unscaling):

    g = g / grad_scale              (GradScaler; written back, as torch's fused path does)
    g = -g                          if maximize
    g = g + weight_decay * p        (fused multiply-add)
    s = s + g * g                   (fused multiply-add)
    p = p - clr * (g / (sqrt(s) + eps))

float16/bfloat16 are computed in float32 and rounded once when stored; ``sqrt`` and the division
are IEEE correctly rounded (``tl.sqrt_rn``, ``tl.div_rn``), so results do not depend on the
GPU's fast-math approximations. With a non-zero ``found_inf`` every element is masked off and
the step counters are put back: nothing changes.

Triton is imported on first use only: ``import adagrad.impl`` works without triton or CUDA. On
CPU tensors the kernel runs only under Triton's interpreter (``TRITON_INTERPRET=1``, which must
be set before the first launch), which is how CI tests it.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import torch
from torch import Tensor

from .common import advance_steps, check_fusable, group_by_device_and_dtype

__all__ = ["BLOCK_SIZE", "MAX_DIMS", "fused_triton_adagrad", "triton_available"]

#: Elements per program.
BLOCK_SIZE = 1024
#: Dimensions a tensor may keep after collapsing; rarer layouts go through contiguous copies.
MAX_DIMS = 4
# Table row: p, g, s, step addresses, numel, contiguous flag, shape, p/g/s strides.
_ROW = 6 + 4 * MAX_DIMS


def triton_available() -> bool:
    """Whether triton can be imported (the kernel's only extra requirement)."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def interpreter_enabled() -> bool:
    """Whether Triton's interpreter is on, so that the kernel can run on CPU tensors."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


@functools.cache
def _kernel() -> Any:
    """Compiles (on first call) and returns the Triton kernel."""
    import triton
    import triton.language as tl

    @triton.jit
    def adagrad_kernel(
        table_ptr, blocks_ptr, hyper_ptr, scale_ptr, inf_ptr, elem_like_ptr, step_like_ptr,
        MAXIMIZE: tl.constexpr, HAS_WD: tl.constexpr, HAS_SCALE: tl.constexpr,
        HAS_INF: tl.constexpr, COMPUTE: tl.constexpr, IS_FP64: tl.constexpr, IS_BF16: tl.constexpr,
        ROW: tl.constexpr, BLOCK: tl.constexpr,
    ):  # fmt: skip
        pid = tl.program_id(0)
        tensor = tl.load(blocks_ptr + 2 * pid)
        start = tl.load(blocks_ptr + 2 * pid + 1)
        row = table_ptr + tensor * ROW
        elem_ptr_type = elem_like_ptr.dtype
        p_ptr = tl.load(row).to(elem_ptr_type)
        g_ptr = tl.load(row + 1).to(elem_ptr_type)
        s_ptr = tl.load(row + 2).to(elem_ptr_type)
        step_ptr = tl.load(row + 3).to(step_like_ptr.dtype)
        numel = tl.load(row + 4)
        contiguous = tl.load(row + 5)

        if HAS_INF:
            # GradScaler saw an inf or NaN: touch nothing (every element masked off).
            numel = tl.where(tl.load(inf_ptr) == 0, numel, 0)
        idx = start + tl.arange(0, BLOCK).to(tl.int64)
        mask = idx < numel
        if contiguous != 0:
            p_off = idx
            g_off = idx
            s_off = idx
        else:
            # Row-major unravel over the (collapsed) shape, then one dot product per operand.
            size1 = tl.load(row + 7)
            size2 = tl.load(row + 8)
            size3 = tl.load(row + 9)
            i3 = idx % size3
            rest = idx // size3
            i2 = rest % size2
            rest = rest // size2
            i1 = rest % size1
            i0 = rest // size1
            p_off = (i0 * tl.load(row + 10) + i1 * tl.load(row + 11)
                     + i2 * tl.load(row + 12) + i3 * tl.load(row + 13))  # fmt: skip
            g_off = (i0 * tl.load(row + 14) + i1 * tl.load(row + 15)
                     + i2 * tl.load(row + 16) + i3 * tl.load(row + 17))  # fmt: skip
            s_off = (i0 * tl.load(row + 18) + i1 * tl.load(row + 19)
                     + i2 * tl.load(row + 20) + i3 * tl.load(row + 21))  # fmt: skip

        # Hyperparameters arrive as float64 so that float64 parameters see them unrounded.
        lr = tl.load(hyper_ptr)
        lr_decay = tl.load(hyper_ptr + 1)
        weight_decay = tl.load(hyper_ptr + 2).to(COMPUTE)
        eps = tl.load(hyper_ptr + 3).to(COMPUTE)
        t = tl.load(step_ptr).to(tl.float64)
        clr = (lr / (1.0 + (t - 1.0) * lr_decay)).to(COMPUTE)

        p = tl.load(p_ptr + p_off, mask=mask, other=0.0).to(COMPUTE)
        g = tl.load(g_ptr + g_off, mask=mask, other=0.0).to(COMPUTE)
        s = tl.load(s_ptr + s_off, mask=mask, other=0.0).to(COMPUTE)
        if HAS_SCALE:
            if IS_FP64:
                g = g / tl.load(scale_ptr).to(COMPUTE)
            else:
                g = tl.div_rn(g, tl.load(scale_ptr).to(COMPUTE))
            tl.store(g_ptr + g_off, g.to(elem_ptr_type.element_ty), mask=mask)
        if MAXIMIZE:
            g = -g
        if HAS_WD:
            g = tl.fma(p, weight_decay, g)
        s = tl.fma(g, g, s)
        if IS_FP64:
            # float64 sqrt and division are IEEE correctly rounded on every GPU (sqrt_rn and
            # div_rn exist for float32 only, where the defaults are approximations).
            p = p - clr * (g / (tl.sqrt(s) + eps))
        else:
            p = p - clr * tl.div_rn(g, tl.sqrt_rn(s) + eps)
        if IS_BF16:
            # Round to the nearest bfloat16, ties to even, in integer arithmetic, so that the
            # final cast only drops zero bits. A plain cast rounds to nearest on GPUs, but the
            # Triton CPU interpreter (how CI runs this kernel) truncates: 1 ulp off half the time.
            # (The unscaled gradient stored above keeps the plain cast.)
            s_bits = s.to(tl.uint32, bitcast=True)
            s = ((s_bits + 0x7FFF + ((s_bits >> 16) & 1)) & 0xFFFF0000).to(tl.float32, bitcast=True)
            p_bits = p.to(tl.uint32, bitcast=True)
            p = ((p_bits + 0x7FFF + ((p_bits >> 16) & 1)) & 0xFFFF0000).to(tl.float32, bitcast=True)
        tl.store(s_ptr + s_off, s.to(elem_ptr_type.element_ty), mask=mask)
        tl.store(p_ptr + p_off, p.to(elem_ptr_type.element_ty), mask=mask)

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
    fused groups). On CPU tensors this needs ``TRITON_INTERPRET=1``.

    Raises:
        RuntimeError: sparse gradients, complex parameters, ``differentiable=True``, step
            counters on another device, or CPU tensors without Triton's interpreter.
    """
    check_fusable(grads, params, differentiable, has_sparse_grad, has_complex)
    if not params:
        return
    for (device, dtype), (ps, gs, ss, ts) in group_by_device_and_dtype(
        params, grads, state_sums, state_steps
    ).items():
        if device.type == "cpu" and not interpreter_enabled():
            raise RuntimeError("the Triton kernel runs on CPU tensors only with TRITON_INTERPRET=1")
        if any(t.device != device for t in ts) or len({t.dtype for t in ts}) != 1:
            raise RuntimeError("fused Triton path: step counters must share the params' device and one dtype")
        advance_steps(ts)
        _launch(ps, gs, ss, ts, device=device, dtype=dtype, lr=lr, weight_decay=weight_decay,
                lr_decay=lr_decay, eps=eps, maximize=maximize, grad_scale=grad_scale,
                found_inf=found_inf)  # fmt: skip
        if found_inf is not None:
            # The kernel skipped every element; the step must not count either.
            torch._foreach_sub_(ts, [found_inf.to(device, ts[0].dtype)] * len(ts))


def _launch(
    ps: list[Tensor], gs: list[Tensor], ss: list[Tensor], ts: list[Tensor], *,
    device: torch.device, dtype: torch.dtype, lr: float | Tensor, weight_decay: float,
    lr_decay: float, eps: float, maximize: bool, grad_scale: Tensor | None,
    found_inf: Tensor | None, block_size: int = BLOCK_SIZE,
) -> None:  # fmt: skip
    """Builds the tables for one (device, dtype) group and launches the kernel once."""
    rows: list[list[int]] = []
    blocks: list[int] = []
    copies: list[tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]] = []
    for p, g, s, t in zip(ps, gs, ss, ts):
        n = p.numel()
        if n == 0:
            continue
        layout = _collapse(p.shape, (p.stride(), g.stride(), s.stride()))
        if layout is None:
            # More than MAX_DIMS dimensions survive collapsing: work on contiguous copies.
            work = (p.contiguous(), g.contiguous(), s.contiguous())
            copies.append((p, g, s, *work))
            p, g, s = work
            layout = _collapse(p.shape, (p.stride(), g.stride(), s.stride()))
            assert layout is not None
        contiguous, shape, strides = layout
        index = len(rows)
        rows.append([p.data_ptr(), g.data_ptr(), s.data_ptr(), t.data_ptr(), n, int(contiguous),
                     *shape, *strides[0], *strides[1], *strides[2]])  # fmt: skip
        for start in range(0, n, block_size):
            blocks += (index, start)
    if rows:
        table = torch.tensor(rows, dtype=torch.int64).to(device, non_blocking=True)
        block_table = torch.tensor(blocks, dtype=torch.int64).to(device, non_blocking=True)
        hyper = torch.tensor([0.0, lr_decay, weight_decay, eps], dtype=torch.float64)
        hyper = hyper.to(device, non_blocking=True)
        if isinstance(lr, Tensor):
            hyper[0].copy_(lr.detach().reshape(()))  # device to device: no host sync
        else:
            hyper[0] = lr
        dummy = torch.zeros(1, dtype=torch.float32, device=device)
        compute = "fp64" if dtype == torch.float64 else "fp32"
        _kernel()[(len(blocks) // 2,)](
            table, block_table, hyper,
            grad_scale.to(device) if grad_scale is not None else dummy,
            found_inf.to(device) if found_inf is not None else dummy,
            # Tiny stand-ins that only carry the element and step pointer types.
            torch.empty(1, dtype=dtype, device=device),
            torch.empty(1, dtype=ts[0].dtype, device=device),
            MAXIMIZE=maximize, HAS_WD=weight_decay != 0, HAS_SCALE=grad_scale is not None,
            HAS_INF=found_inf is not None, COMPUTE=_tl_dtype(compute),
            IS_FP64=compute == "fp64", IS_BF16=dtype == torch.bfloat16, ROW=_ROW, BLOCK=block_size,
        )  # fmt: skip
    for p, g, s, p_work, g_work, s_work in copies:
        p.copy_(p_work)
        s.copy_(s_work)
        if grad_scale is not None:
            g.copy_(g_work)


def _tl_dtype(name: str) -> Any:
    import triton.language as tl

    return tl.float64 if name == "fp64" else tl.float32


def _collapse(
    shape: torch.Size, strides: tuple[tuple[int, ...], ...]
) -> tuple[bool, list[int], list[list[int]]] | None:
    """Merges dimensions that are contiguous with each other in every operand.

    Returns:
        ``(contiguous, shape, strides)`` padded on the left to MAX_DIMS dimensions, or None if
        more than MAX_DIMS dimensions remain. ``contiguous`` means one dimension of stride 1 in
        all three operands, so the kernel can skip the unravel.
    """
    dims: list[tuple[int, list[int]]] = []
    for d, size in enumerate(shape):
        if size == 1:
            continue  # a size-1 dimension's stride never matters
        st = [op[d] for op in strides]
        if dims and all(outer == inner * size for outer, inner in zip(dims[-1][1], st)):
            dims[-1] = (dims[-1][0] * size, st)
        else:
            dims.append((size, st))
    if len(dims) > MAX_DIMS:
        return None
    contiguous = len(dims) == 0 or (len(dims) == 1 and all(x == 1 for x in dims[0][1]))
    dims = [(1, [0, 0, 0])] * (MAX_DIMS - len(dims)) + dims
    shape_out = [size for size, _ in dims]
    strides_out = [[st[k] for _, st in dims] for k in range(3)]
    return contiguous, shape_out, strides_out
