"""Memory layouts (R29), on every path, float64 and float32: non-contiguous parameters and
gradients give the contiguous answer, at every step, for params and sums; one view above 2**16
elements. torch 2.13's fused CPU kernel fails these (divergence D5, in known_divergences.txt).

The target is driven through :func:`~adagrad.conformance.engine.harness.check_case` as everywhere else;
a thin stand-in optimizer hands it strided copies of the case's parameters and gradients (same
values, other strides), checks after every step that each parameter kept its storage and strides,
and copies the values back for the comparison. Reproduction snippets replay contiguous tensors.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch

from adagrad.conformance.engine.dtypes import round_to
from adagrad.conformance.engine.harness import Case, check_case
from adagrad.conformance.engine.strategies import path_params
from adagrad.conformance.features import feature

pytestmark = [feature("layouts"), pytest.mark.spec("R29", "D5")]


def laid_out(t: torch.Tensor, layout: str) -> torch.Tensor:
    """A tensor holding ``t``'s values with another memory layout."""
    if layout == "contiguous":
        return t.detach().clone()
    if layout == "transposed":
        return t.detach().transpose(-1, -2).contiguous().transpose(-1, -2)
    if layout == "sliced":  # every third element of a wider buffer along the last dimension
        base = torch.zeros(*t.shape[:-1], 3 * t.shape[-1], dtype=t.dtype)
        view = base[..., ::3]
        view.copy_(t.detach())
        return view
    if layout == "expanded":  # stride 0 along the first dimension: the case's rows are equal
        row = t.detach()[:1]
        if not torch.equal(row.expand(t.shape), t.detach()):
            raise ValueError("an expanded layout needs a gradient whose rows are equal")
        return row.clone().expand(t.shape)
    raise ValueError(f"unknown layout {layout!r}")


class _LaidOut:
    """An optimizer over strided copies of the harness's (contiguous) parameters."""

    def __init__(
        self, target: Any, params: list[torch.Tensor], hyper: dict[str, Any], param_layout: str, grad_layout: str
    ):
        self._outer = params
        self._grad_layout = grad_layout
        self._inner = [laid_out(p, param_layout).requires_grad_() for p in params]
        self._where = [(q.data_ptr(), q.stride()) for q in self._inner]
        self._opt = target.make(self._inner, **hyper)

    def step(self, closure: Any = None) -> Any:
        for outer, inner in zip(self._outer, self._inner):
            inner.grad = None if outer.grad is None else laid_out(outer.grad, self._grad_layout)
        result = self._opt.step(closure)
        for i, q in enumerate(self._inner):
            assert (q.data_ptr(), q.stride()) == self._where[i], (
                f"R29: the step replaced or re-laid param {i}'s storage (strides {self._where[i][1]} -> {q.stride()})"
            )
        with torch.no_grad():
            for outer, inner in zip(self._outer, self._inner):
                outer.copy_(inner)
        return result

    def __getattr__(self, name: str) -> Any:  # state_dict, param_groups, ... are the target's
        return getattr(self._opt, name)


def with_layout(target: Any, param_layout: str, grad_layout: str) -> Any:
    """The target, seeing its parameters and gradients with these layouts."""
    return dataclasses.replace(
        target, factory=lambda params, **hyper: _LaidOut(target, params, hyper, param_layout, grad_layout)
    )


#: (param layout, grad layout, shape): every pair on a small matrix, and one large sliced view.
#: Test ids read dtype-<grad layout>-<param layout>[-elements]-path.
LAYOUTS = [
    (p, g, (7, 5))
    for p in ("contiguous", "transposed", "sliced")
    for g in ("contiguous", "transposed", "sliced", "expanded")
]
LAYOUTS += [("sliced", "transposed", (257, 257))]  # 66,049 elements > 2**16


@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize(
    ("param_layout", "grad_layout", "shape"),
    LAYOUTS,
    ids=[f"{g}-{p}" + ("" if s == (7, 5) else f"-{s[0] * s[1]}") for p, g, s in LAYOUTS],
)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_layout(target, record_ulps, param_layout, grad_layout, shape, dtype, options):
    """Values equal the oracle's at every step (params and sums); the param keeps its storage and strides."""
    rng = np.random.default_rng(29)
    steps = 3 if shape == (7, 5) else 2

    def grad() -> np.ndarray:
        g = rng.uniform(-3, 3, shape)
        return round_to(np.broadcast_to(g[:1], shape).copy() if grad_layout == "expanded" else g, dtype)

    case = Case(
        dtype=dtype,
        params=[round_to(rng.uniform(-2, 2, shape), dtype)],
        grads=[[grad()] for _ in range(steps)],
        groups=[{"lr": 0.3, "params": [0]}],
        options=dict(options),
    )
    check_case(
        with_layout(target, param_layout, grad_layout),
        case,
        record_ulps,
        what=f"{param_layout} param, {grad_layout} grad {shape} (the snippet replays contiguous tensors)",
    )
