"""The fused path as one Triton kernel: a whole step for many tensors in one launch.

Every program updates one block of ``BLOCK_SIZE`` elements of one tensor. A table on the device
gives, per tensor, the addresses of its parameter, gradient, sum and step counter, its element
count and its layout (up to four collapsed dimensions with a stride per operand), and a second
table maps each program to its (tensor, first element). One launch therefore serves every
tensor of a (device, dtype) group, whatever their sizes and strides. The columns are named
(``COL_*``) and shared by the host code and the kernel.

The host side keeps both tables on the device between steps (:func:`_group_tables`). At every
step it checks each group's layout with a few C-level ``map`` calls over its tensors (their
element counts when every param, grad and sum is contiguous, else their shapes and strides),
compared with the cached ones as tuples; the layout columns and the per-block table are rebuilt
only when one changed. The four addresses per tensor are compared likewise and only the table
is re-uploaded when one moved (new gradient tensors, for instance). A steady training loop thus
costs about ten ``map`` calls over its tensors per step instead of O(numel / BLOCK_SIZE) Python
work (docs/performance.md has the measured host times).

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

Triton is imported on first use only: ``import adagrad.impl`` works without triton or CUDA. On
CPU tensors the kernel runs only under Triton's interpreter (``TRITON_INTERPRET=1``, which must
be set before the first launch), which is how CI tests it.
"""

from __future__ import annotations

import functools
import os
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import torch
from torch import Tensor

from .common import advance_steps, check_fusable, group_by_device_and_dtype

__all__ = ["BLOCK_SIZE", "LAUNCH_OPTIONS", "MAX_DIMS", "clear_table_cache", "fused_triton_adagrad", "triton_available"]

#: Elements per program.
BLOCK_SIZE = 1024
#: Dimensions a tensor may keep after collapsing; rarer layouts go through contiguous copies.
MAX_DIMS = 4

# Columns of the per-tensor table (one int64 row per tensor), shared by the host and the kernel.
COL_P, COL_G, COL_S, COL_STEP = 0, 1, 2, 3  # addresses of param, grad, sum and step counter
COL_NUMEL = 4
COL_CONTIGUOUS = 5  # 1: one dimension of stride 1 in all three operands (no unravel needed)
COL_SHAPE = 6  # MAX_DIMS sizes, outermost first, padded on the left with 1s
COL_P_STRIDES = COL_SHAPE + MAX_DIMS  # MAX_DIMS strides of the param, in elements
COL_G_STRIDES = COL_P_STRIDES + MAX_DIMS  # ... of the grad
COL_S_STRIDES = COL_G_STRIDES + MAX_DIMS  # ... of the sum
ROW = COL_S_STRIDES + MAX_DIMS
_POINTER_COLS = 4  # COL_P..COL_STEP change with the tensors; the rest only with their layouts
#: Groups whose tables are kept (least recently used dropped first).
TABLE_CACHE_SIZE = 64
#: Compile options of every launch. No automatic FMA contraction: the kernel fuses exactly the
#: operations it writes as ``tl.fma``, so a compiled kernel performs the same IEEE operations as
#: Triton's CPU interpreter (what CI runs), whatever the triton version's default.
LAUNCH_OPTIONS: dict[str, Any] = {"enable_fp_fusion": False}


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
        RuntimeError: sparse gradients, complex parameters, ``differentiable=True``, step
            counters on another device or of mixed dtypes, gradients or sums shaped unlike
            their parameter, or CPU tensors without Triton's interpreter.
    """
    check_fusable(grads, params, differentiable, has_sparse_grad, has_complex)
    if not params:
        return
    for (device, dtype), (ps, gs, ss, ts) in group_by_device_and_dtype(params, grads, state_sums, state_steps).items():
        if device.type == "cpu" and not interpreter_enabled():
            raise RuntimeError("the Triton kernel runs on CPU tensors only with TRITON_INTERPRET=1")
        _launch(ps, gs, ss, ts, device=device, dtype=dtype, lr=lr, weight_decay=weight_decay,
                lr_decay=lr_decay, eps=eps, maximize=maximize, grad_scale=grad_scale,
                found_inf=found_inf)  # fmt: skip
        if found_inf is not None:
            # The kernel skipped every element; the step must not count either.
            torch._foreach_sub_(ts, [found_inf.to(device, ts[0].dtype)] * len(ts))


@dataclass
class _Tables:
    """The kernel's tables for one (device, dtype) group, kept while its tensors stay put.

    The layout part (element counts, collapsed shapes and strides, the per-block table)
    depends only on shapes and strides; the addresses change more often (new gradient tensors,
    contiguous work copies) and are rebuilt on their own.
    """

    layout_key: tuple[Any, ...]
    layout_rows: Tensor  # CPU int64 [live, ROW - _POINTER_COLS]: columns COL_NUMEL onwards
    live: list[int]  # indices of the non-empty tensors: one table row each, in this order
    copied: list[int]  # indices that go through contiguous copies (too many dimensions left)
    blocks: Tensor | None  # device int64 [n_blocks, 2]: (row, first element) per program
    n_blocks: int
    pointer_key: tuple[Any, ...] | None = None
    table: Tensor | None = None  # device int64 [live, ROW]
    hyper_key: tuple[float, ...] | None = None
    hyper: Tensor | None = None  # device float64 [lr, lr_decay, weight_decay, eps]
    stand_ins: dict[Any, Tensor] = field(default_factory=dict)


_TABLES: OrderedDict[tuple[Any, ...], _Tables] = OrderedDict()
_shape = attrgetter("shape")


def clear_table_cache() -> None:
    """Drops every cached table (they are rebuilt on the next step)."""
    _TABLES.clear()


def _group_tables(
    ps: list[Tensor], gs: list[Tensor], ss: list[Tensor], ts: list[Tensor],
    device: torch.device, dtype: torch.dtype, block_size: int,
) -> _Tables:  # fmt: skip
    """The cached layout part of a group's tables, rebuilt if any layout changed.

    Cached per group (its device, dtype, size and first parameter's identity) and validated at
    every step against every tensor's layout: a changed layout, a new parameter set or a reused
    identity only costs a rebuild, never a stale table. Every query is one C-level ``map`` over
    the group (about 0.1-0.3 us per tensor each); when every param, grad and sum is contiguous
    (checked in bulk) the layout is their element counts alone, otherwise it is the shapes and
    strides of all three.
    """
    numels = tuple(map(Tensor.numel, ps))
    if (
        all(map(Tensor.is_contiguous, ps))
        and all(map(Tensor.is_contiguous, gs))
        and all(map(Tensor.is_contiguous, ss))
        and numels == tuple(map(Tensor.numel, gs)) == tuple(map(Tensor.numel, ss))
    ):
        # Between rebuilds (which check shapes) a grad reshaped to another shape with as many
        # elements would pass unnoticed; autograd's `p.grad = g` refuses such a gradient.
        layout_key: tuple[Any, ...] = ("contiguous", block_size, numels)
    else:
        layout_key = (
            "strided",
            block_size,
            tuple(map(_shape, ps)),
            tuple(map(_shape, gs)),
            tuple(map(_shape, ss)),
            tuple(map(Tensor.stride, ps)),
            tuple(map(Tensor.stride, gs)),
            tuple(map(Tensor.stride, ss)),
        )
    slot = (device, dtype, len(ps), id(ps[0]))
    tables = _TABLES.get(slot)
    if tables is not None and tables.layout_key == layout_key:
        _TABLES.move_to_end(slot)
        return tables
    tables = _build_layout(ps, gs, ss, ts, layout_key, device, block_size)
    _TABLES[slot] = tables
    _TABLES.move_to_end(slot)
    while len(_TABLES) > TABLE_CACHE_SIZE:
        _TABLES.popitem(last=False)
    return tables


def _build_layout(
    ps: list[Tensor], gs: list[Tensor], ss: list[Tensor], ts: list[Tensor],
    layout_key: tuple[Any, ...], device: torch.device, block_size: int,
) -> _Tables:  # fmt: skip
    """Collapses every tensor's layout and builds the per-block table (on the device)."""
    if any(t.device != device for t in ts) or len({t.dtype for t in ts}) != 1:
        raise RuntimeError("fused Triton path: step counters must share the params' device and one dtype")
    rows: list[list[int]] = []
    live: list[int] = []
    copied: list[int] = []
    numels: list[int] = []
    for i, (p, g, s) in enumerate(zip(ps, gs, ss)):
        if g.shape != p.shape or s.shape != p.shape:
            raise RuntimeError(
                f"fused Triton path: tensor {i}: grad {tuple(g.shape)} and sum {tuple(s.shape)} "
                f"must have the param's shape {tuple(p.shape)}"
            )
        n = p.numel()
        if n == 0:
            continue
        layout = _collapse(p.shape, (p.stride(), g.stride(), s.stride()))
        if layout is None:
            # More than MAX_DIMS dimensions survive collapsing: work on contiguous copies.
            copied.append(i)
            layout = _collapse(p.shape, (_contiguous_strides(p.shape),) * 3)
            assert layout is not None
        contiguous, shape, strides = layout
        live.append(i)
        numels.append(n)
        rows.append([n, int(contiguous), *shape, *strides[0], *strides[1], *strides[2]])
    layout_rows = torch.tensor(rows, dtype=torch.int64).reshape(len(rows), ROW - _POINTER_COLS)
    # Per-block table, vectorised: program k serves row r(k) from element (k - first(r)) * block.
    per_row = (torch.tensor(numels, dtype=torch.int64) + block_size - 1) // block_size
    n_blocks = int(per_row.sum())
    blocks = None
    if n_blocks:
        row_of = torch.repeat_interleave(torch.arange(len(rows), dtype=torch.int64), per_row)
        first = torch.cumsum(per_row, 0) - per_row
        starts = (torch.arange(n_blocks, dtype=torch.int64) - first[row_of]) * block_size
        blocks = torch.stack([row_of, starts], dim=1).to(device)
    return _Tables(layout_key, layout_rows, live, copied, blocks, n_blocks)


def _device_table(
    tables: _Tables, ps: list[Tensor], gs: list[Tensor], ss: list[Tensor], ts: list[Tensor],
    device: torch.device,
) -> Tensor:  # fmt: skip
    """The full per-tensor table on the device, reused while no address changed."""
    pointer_key = (
        tuple(map(Tensor.data_ptr, ps)),
        tuple(map(Tensor.data_ptr, gs)),
        tuple(map(Tensor.data_ptr, ss)),
        tuple(map(Tensor.data_ptr, ts)),
    )
    if tables.table is not None and tables.pointer_key == pointer_key:
        return tables.table
    if any(t.device != device for t in ts) or len({t.dtype for t in ts}) != 1:
        raise RuntimeError("fused Triton path: step counters must share the params' device and one dtype")
    # array.array converts 4 x N Python ints in C, an order of magnitude faster than torch.tensor.
    flat = array("q")
    for column in pointer_key:
        flat.extend(column)
    pointers = torch.frombuffer(flat, dtype=torch.int64).view(_POINTER_COLS, len(ps)).t()
    if len(tables.live) != len(ps):
        pointers = pointers[tables.live]
    # A fresh tensor, never written in place: a launch still reading the old one is unaffected.
    table = torch.cat([pointers, tables.layout_rows], dim=1).to(device)
    tables.pointer_key, tables.table = pointer_key, table
    return table


def _launch(
    ps: list[Tensor], gs: list[Tensor], ss: list[Tensor], ts: list[Tensor], *,
    device: torch.device, dtype: torch.dtype, lr: float | Tensor, weight_decay: float,
    lr_decay: float, eps: float, maximize: bool, grad_scale: Tensor | None,
    found_inf: Tensor | None, block_size: int = BLOCK_SIZE,
) -> None:  # fmt: skip
    """Advances the steps and launches the kernel once for one (device, dtype) group."""
    tables = _group_tables(ps, gs, ss, ts, device, dtype, block_size)
    if not tables.n_blocks:
        advance_steps(ts)  # only empty tensors: nothing to launch, but the steps count
        return
    work: list[tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]] = []
    if tables.copied:
        ps, gs, ss = list(ps), list(gs), list(ss)
        for i in tables.copied:
            copies = (ps[i].contiguous(), gs[i].contiguous(), ss[i].contiguous())
            work.append((ps[i], gs[i], ss[i], *copies))
            ps[i], gs[i], ss[i] = copies
    table = _device_table(tables, ps, gs, ss, ts, device)
    advance_steps(ts)  # after every check: a step that raises changes nothing
    if isinstance(lr, Tensor):
        hyper = torch.tensor([0.0, lr_decay, weight_decay, eps], dtype=torch.float64).to(device)
        hyper[0].copy_(lr.detach().reshape(()))  # device to device: no host sync
    else:
        key = (float(lr), float(lr_decay), float(weight_decay), float(eps))
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
    for p, g, s, p_work, g_work, s_work in work:
        p.copy_(p_work)
        s.copy_(s_work)
        if grad_scale is not None:
            g.copy_(g_work)


def _tl_dtype(name: str) -> Any:
    import triton.language as tl

    return tl.float64 if name == "fp64" else tl.float32


def _contiguous_strides(shape: torch.Size) -> tuple[int, ...]:
    """Row-major strides of a contiguous tensor of this shape."""
    strides = []
    step = 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


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
