"""The Triton kernel's tables, built and cached on the host (see :mod:`adagrad.impl.triton_kernel`).

Three tables feed one launch for a (device, dtype) group:

- the per-tensor table, one int64 row of :data:`ROW` columns per non-empty tensor: the addresses
  of its parameter, gradient, sum and step counter, its element count and its layout (up to
  :data:`MAX_DIMS` collapsed dimensions, with a stride per operand);
- the per-block table, one ``(row, first element)`` pair per program;
- the hyperparameters, four float64 values.

Every column has a name (``COL_*``, ``BLOCK_*``, ``HYPER_*``), shared by the host code here and
the kernel (:mod:`adagrad.impl.triton_jit`).

Both integer tables stay on the device between steps (:func:`group_tables`). At every step each
group's layout is checked with a few C-level ``map`` calls over its tensors (their element
counts when every param, grad and sum is contiguous, else their shapes and strides), compared
with the cached ones as tuples; the layout columns and the per-block table are rebuilt only when
one changed. The four addresses per tensor are compared likewise and only the table is
re-uploaded when one moved (new gradient tensors, for instance). A steady training loop thus
costs about ten ``map`` calls over its tensors per step instead of O(numel / BLOCK_SIZE) Python
work (docs/performance.md has the measured host times).
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "BLOCK_COLS",
    "GroupTables",
    "BLOCK_ROW",
    "BLOCK_START",
    "COL_CONTIGUOUS",
    "COL_G",
    "COL_G_STRIDES",
    "COL_NUMEL",
    "COL_P",
    "COL_P_STRIDES",
    "COL_S",
    "COL_S_STRIDES",
    "COL_SHAPE",
    "COL_STEP",
    "HYPER_EPS",
    "HYPER_LR",
    "HYPER_LR_DECAY",
    "HYPER_WEIGHT_DECAY",
    "MAX_DIMS",
    "ROW",
    "TABLE_CACHE_SIZE",
    "clear_table_cache",
    "device_table",
    "group_tables",
    "hyper_values",
]

#: Dimensions a tensor may keep after collapsing; rarer layouts go through contiguous copies.
MAX_DIMS = 4

# Columns of the per-tensor table (one int64 row per tensor).
COL_P, COL_G, COL_S, COL_STEP = 0, 1, 2, 3  # addresses of param, grad, sum and step counter
COL_NUMEL = 4
COL_CONTIGUOUS = 5  # 1: one dimension of stride 1 in all three operands (no unravel needed)
COL_SHAPE = 6  # MAX_DIMS sizes, outermost first, padded on the left with 1s
COL_P_STRIDES = COL_SHAPE + MAX_DIMS  # MAX_DIMS strides of the param, in elements
COL_G_STRIDES = COL_P_STRIDES + MAX_DIMS  # ... of the grad
COL_S_STRIDES = COL_G_STRIDES + MAX_DIMS  # ... of the sum
ROW = COL_S_STRIDES + MAX_DIMS
_POINTER_COLS = 4  # COL_P..COL_STEP change with the tensors; the rest only with their layouts

# Columns of the per-block table (one int64 pair per program).
BLOCK_ROW, BLOCK_START = 0, 1  # the tensor's row in the per-tensor table, its first element
BLOCK_COLS = 2

# Positions in the hyperparameter vector (float64, so float64 parameters see them unrounded).
HYPER_LR, HYPER_LR_DECAY, HYPER_WEIGHT_DECAY, HYPER_EPS = 0, 1, 2, 3

#: Groups whose tables are kept (least recently used dropped first).
TABLE_CACHE_SIZE = 64


def hyper_values(lr: float, lr_decay: float, weight_decay: float, eps: float) -> tuple[float, ...]:
    """The hyperparameter vector's values, each at its ``HYPER_*`` position."""
    values = [0.0] * 4
    values[HYPER_LR], values[HYPER_LR_DECAY] = float(lr), float(lr_decay)
    values[HYPER_WEIGHT_DECAY], values[HYPER_EPS] = float(weight_decay), float(eps)
    return tuple(values)


@dataclass
class GroupTables:
    """The kernel's tables for one (device, dtype) group, kept while its tensors stay put.

    The layout part (element counts, collapsed shapes and strides, the per-block table)
    depends only on shapes and strides; the addresses change more often (new gradient tensors,
    contiguous work copies) and are rebuilt on their own.
    """

    layout_key: tuple[Any, ...]
    layout_rows: Tensor  # CPU int64 [live, ROW - _POINTER_COLS]: columns COL_NUMEL onwards
    live: list[int]  # indices of the non-empty tensors: one table row each, in this order
    copied: list[int]  # indices that go through contiguous copies (too many dimensions left)
    blocks: Tensor | None  # device int64 [n_blocks, BLOCK_COLS]: (row, first element) per program
    n_blocks: int
    pointer_key: tuple[Any, ...] | None = None
    table: Tensor | None = None  # device int64 [live, ROW]
    hyper_key: tuple[float, ...] | None = None
    hyper: Tensor | None = None  # device float64, at the HYPER_* positions
    stand_ins: dict[Any, Tensor] = field(default_factory=dict)


_TABLES: OrderedDict[tuple[Any, ...], GroupTables] = OrderedDict()
_shape = attrgetter("shape")


def clear_table_cache() -> None:
    """Drops every cached table (they are rebuilt on the next step)."""
    _TABLES.clear()


def group_tables(
    ps: list[Tensor], gs: list[Tensor], ss: list[Tensor], ts: list[Tensor],
    device: torch.device, dtype: torch.dtype, block_size: int,
) -> GroupTables:  # fmt: skip
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
) -> GroupTables:  # fmt: skip
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
        table = torch.empty(n_blocks, BLOCK_COLS, dtype=torch.int64)
        table[:, BLOCK_ROW], table[:, BLOCK_START] = row_of, starts
        blocks = table.to(device)
    return GroupTables(layout_key, layout_rows, live, copied, blocks, n_blocks)


def device_table(
    tables: GroupTables, ps: list[Tensor], gs: list[Tensor], ss: list[Tensor], ts: list[Tensor],
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
