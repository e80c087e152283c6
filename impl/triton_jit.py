"""The Triton source of the fused kernel (see :mod:`adagrad.impl.triton_kernel`; its tables and their
columns: :mod:`adagrad.impl.triton_tables`).

Imported on the first launch only, so that ``import adagrad.impl`` needs no triton. The table's
columns are module-level ``tl.constexpr`` values: compiled kernels may read only constexpr
globals, and Triton's CPU interpreter sees module globals but not closures.
"""

from __future__ import annotations

import triton
import triton.language as tl

from .triton_tables import (
    BLOCK_COLS,
    BLOCK_ROW,
    BLOCK_START,
    COL_CONTIGUOUS,
    COL_G,
    COL_G_STRIDES,
    COL_NUMEL,
    COL_P,
    COL_P_STRIDES,
    COL_S,
    COL_S_STRIDES,
    COL_SHAPE,
    COL_STEP,
    HYPER_EPS,
    HYPER_LR,
    HYPER_LR_DECAY,
    HYPER_WEIGHT_DECAY,
    MAX_DIMS,
)

__all__ = ["adagrad_kernel"]

assert MAX_DIMS == 4, "the kernel unravels exactly four dimensions"

P = tl.constexpr(COL_P)
G = tl.constexpr(COL_G)
S = tl.constexpr(COL_S)
STEP = tl.constexpr(COL_STEP)
NUMEL = tl.constexpr(COL_NUMEL)
CONTIGUOUS = tl.constexpr(COL_CONTIGUOUS)
SHAPE = tl.constexpr(COL_SHAPE)
P_STRIDES = tl.constexpr(COL_P_STRIDES)
G_STRIDES = tl.constexpr(COL_G_STRIDES)
S_STRIDES = tl.constexpr(COL_S_STRIDES)
B_COLS = tl.constexpr(BLOCK_COLS)
B_ROW = tl.constexpr(BLOCK_ROW)
B_START = tl.constexpr(BLOCK_START)
LR = tl.constexpr(HYPER_LR)
LR_DECAY = tl.constexpr(HYPER_LR_DECAY)
WEIGHT_DECAY = tl.constexpr(HYPER_WEIGHT_DECAY)
EPS = tl.constexpr(HYPER_EPS)


@triton.jit
def offset(strides, i0, i1, i2, i3):
    """An operand's element offset of index (i0, i1, i2, i3), given its four strides."""
    return (i0 * tl.load(strides) + i1 * tl.load(strides + 1)
            + i2 * tl.load(strides + 2) + i3 * tl.load(strides + 3))  # fmt: skip


@triton.jit
def adagrad_kernel(
    table_ptr, blocks_ptr, hyper_ptr, scale_ptr, inf_ptr, elem_like_ptr, step_like_ptr,
    MAXIMIZE: tl.constexpr, HAS_WD: tl.constexpr, HAS_SCALE: tl.constexpr,
    HAS_INF: tl.constexpr, COMPUTE: tl.constexpr, IS_FP64: tl.constexpr, IS_BF16: tl.constexpr,
    ROW: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """One block of one tensor per program; see :mod:`adagrad.impl.triton_kernel`."""
    pid = tl.program_id(0)
    tensor = tl.load(blocks_ptr + B_COLS * pid + B_ROW)
    start = tl.load(blocks_ptr + B_COLS * pid + B_START)
    row = table_ptr + tensor * ROW
    elem_ptr_type = elem_like_ptr.dtype
    p_ptr = tl.load(row + P).to(elem_ptr_type)
    g_ptr = tl.load(row + G).to(elem_ptr_type)
    s_ptr = tl.load(row + S).to(elem_ptr_type)
    step_ptr = tl.load(row + STEP).to(step_like_ptr.dtype)
    numel = tl.load(row + NUMEL)
    contiguous = tl.load(row + CONTIGUOUS)

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
        size1 = tl.load(row + SHAPE + 1)
        size2 = tl.load(row + SHAPE + 2)
        size3 = tl.load(row + SHAPE + 3)
        i3 = idx % size3
        rest = idx // size3
        i2 = rest % size2
        rest = rest // size2
        i1 = rest % size1
        i0 = rest // size1
        p_off = offset(row + P_STRIDES, i0, i1, i2, i3)
        g_off = offset(row + G_STRIDES, i0, i1, i2, i3)
        s_off = offset(row + S_STRIDES, i0, i1, i2, i3)

    # Hyperparameters arrive as float64 so that float64 parameters see them unrounded.
    lr = tl.load(hyper_ptr + LR)
    lr_decay = tl.load(hyper_ptr + LR_DECAY)
    weight_decay = tl.load(hyper_ptr + WEIGHT_DECAY).to(COMPUTE)
    eps = tl.load(hyper_ptr + EPS).to(COMPUTE)
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
