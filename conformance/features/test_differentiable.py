"""differentiable=True (R28): the step is a differentiable function of param and gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adagrad.conformance.features import feature
from adagrad.conformance.harness import Case, check_case

pytestmark = feature("differentiable")

HYPER = [
    pytest.param(dict(lr=0.1), id="plain"),
    pytest.param(dict(lr=0.3, lr_decay=0.1, weight_decay=0.2, initial_accumulator_value=0.5, eps=1e-3), id="all-flags"),
    pytest.param(dict(lr=0.2, maximize=True, initial_accumulator_value=0.1), id="maximize"),
]


@pytest.mark.parametrize("hyper", HYPER)
def test_gradcheck_through_two_steps(target, hyper):
    """R28: d(param after 2 steps)/d(param0, grads) matches finite differences (float64)."""

    def two_steps(p0, g1, g2):
        p = p0.clone()  # a non-leaf, as differentiable optimisation requires
        opt = target.make([p], differentiable=True, **hyper)
        for g in (g1, g2):
            p.grad = g.clone()
            opt.step()
        return p

    gen = torch.Generator().manual_seed(28)
    args = [torch.randn(5, dtype=torch.float64, generator=gen, requires_grad=True) for _ in range(3)]
    assert torch.autograd.gradcheck(two_steps, args, eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("hyper", HYPER)
def test_differentiable_values_match_oracle(target, record_ulps, hyper):
    """R28: differentiable=True computes the same values as R1."""
    rng = np.random.default_rng(1)
    full = dict(lr=0.01, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10, maximize=False) | hyper
    case = Case(dtype="float64", params=[rng.uniform(-2, 2, 6)], grads=[[rng.uniform(-3, 3, 6)] for _ in range(3)],
                groups=[{**full, "params": [0]}], options={"differentiable": True})
    check_case(target, case, record_ulps, what="differentiable")
