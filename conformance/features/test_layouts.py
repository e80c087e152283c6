"""Memory layouts (R29): non-contiguous parameters and gradients give the contiguous answer.

torch 2.13's fused CPU kernel fails these (divergence D5, in known_divergences.txt).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adagrad.conformance.features import feature, requires
from adagrad.conformance.harness import Case, compare_arrays, run_oracle, to_numpy

pytestmark = feature("layouts")

HYPER = dict(lr=0.3, lr_decay=0.1, weight_decay=0.05, initial_accumulator_value=0.1, eps=1e-8, maximize=False)


def _param(layout: str, gen, dtype):
    if layout == "transposed":
        return torch.randn(5, 7, dtype=dtype, generator=gen).t().detach().requires_grad_()
    if layout == "sliced":
        return torch.randn(6, 16, dtype=dtype, generator=gen)[:, ::3].detach().requires_grad_()
    return torch.randn(7, 5, dtype=dtype, generator=gen).requires_grad_()


def _grad(layout: str, shape, gen, dtype):
    if layout == "transposed":
        return torch.randn(shape[::-1], dtype=dtype, generator=gen).t()
    if layout == "sliced":
        return torch.randn(shape[0], shape[1] * 2, dtype=dtype, generator=gen)[:, ::2]
    if layout == "expanded":
        return torch.randn(1, shape[1], dtype=dtype, generator=gen).expand(shape)
    return torch.randn(shape, dtype=dtype, generator=gen)


PATHS = [
    pytest.param({}, id="default"),
    pytest.param({"foreach": True}, id="foreach", marks=requires("foreach")),
    pytest.param({"fused": True}, id="fused", marks=requires("fused")),
]


@pytest.mark.parametrize("options", PATHS)
@pytest.mark.parametrize("param_layout", ["contiguous", "transposed", "sliced"])
@pytest.mark.parametrize("grad_layout", ["contiguous", "transposed", "sliced", "expanded"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_layout(target, record_ulps, dtype, grad_layout, param_layout, options):
    """R29: values equal the oracle's; the param keeps its storage and strides."""
    gen = torch.Generator().manual_seed(29)
    p = _param(param_layout, gen, dtype)
    ptr, strides = p.data_ptr(), p.stride()
    p0 = to_numpy(p)
    opt = target.make([p], **HYPER, **options)
    grads = []
    for _ in range(3):
        g = _grad(grad_layout, tuple(p.shape), gen, dtype)
        grads.append([to_numpy(g)])
        p.grad = g
        opt.step()
    assert p.data_ptr() == ptr and p.stride() == strides, "the step replaced or re-laid the parameter's storage"
    name = str(dtype).removeprefix("torch.")
    case = Case(dtype=name, params=[p0], grads=grads, groups=[{**HYPER, "params": [0]}])
    *_, (want, _, _, bounds, _) = list(run_oracle(case))
    ulps, problem = compare_arrays(to_numpy(p), want[0], bounds[0], name)
    record_ulps(ulps)
    assert problem is None, f"{param_layout} param, {grad_layout} grad, {options}: {problem}"
