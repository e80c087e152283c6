"""differentiable=True (R28), on every path: the step is a differentiable function of param and
gradient. torch refuses it on the foreach and fused paths; a target may refuse the same way
(torch's exception and message) or compute it correctly (R27)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from adagrad.conformance.engine.harness import Case
from adagrad.conformance.engine.strategies import REFUSALS, check_or_refused, path_name, path_params
from adagrad.conformance.features import feature

pytestmark = [feature("differentiable"), pytest.mark.spec("R28", "R27")]

HYPER = [
    pytest.param(dict(lr=0.1), id="plain"),
    pytest.param(dict(lr=0.3, lr_decay=0.1, weight_decay=0.2, initial_accumulator_value=0.5, eps=1e-3), id="all-flags"),
    pytest.param(dict(lr=0.2, maximize=True, initial_accumulator_value=0.1), id="maximize"),
]


@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("hyper", HYPER)
def test_gradcheck_through_two_steps(target, hyper, options):
    """d(param after 2 steps)/d(param0, grads) matches finite differences (float64)."""

    def two_steps(p0, g1, g2):
        p = p0.clone()  # a non-leaf, as differentiable optimisation requires
        opt = target.make([p], differentiable=True, **hyper, **options)
        for g in (g1, g2):
            p.grad = g.clone()
            opt.step()
        return p

    gen = torch.Generator().manual_seed(28)
    args = [torch.randn(5, dtype=torch.float64, generator=gen, requires_grad=True) for _ in range(3)]
    refusal = REFUSALS.get((path_name(options), "differentiable"))
    try:
        ok = torch.autograd.gradcheck(two_steps, args, eps=1e-6, atol=1e-5, rtol=1e-4)
    except Exception as exc:  # noqa: BLE001 - only torch's refusal on this path passes
        if refusal is None or not isinstance(exc, refusal[0]) or not re.search(refusal[1], str(exc)):
            raise
        return
    assert ok


@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("hyper", HYPER)
def test_differentiable_values_match_oracle(target, record_ulps, hyper, options):
    """differentiable=True computes the same values as R1."""
    rng = np.random.default_rng(1)
    case = Case(
        dtype="float64",
        params=[rng.uniform(-2, 2, 6)],
        grads=[[rng.uniform(-3, 3, 6)] for _ in range(3)],
        groups=[{**hyper, "params": [0]}],
        options={"differentiable": True, **options},
    )
    check_or_refused(target, case, record_ulps, what="differentiable", needs="differentiable")
