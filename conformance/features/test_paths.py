"""The foreach and fused paths themselves (R27): many tensors in one call, sizes that reach
vectorised kernel bodies, and what torch's fused path refuses.

Every other feature runs on every path too (``test_x[...-foreach]``, ``test_x[...-fused]``);
this module is about what only a path has. Refusing what torch refuses (with torch's exception
and message, before anything changed) and computing it correctly are both conformant; a wrong
result is not (R27).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.engine.harness import Case, check_case, target_state, to_torch
from adagrad.conformance.engine.strategies import REFUSALS, cases, lr_only, shapes
from adagrad.conformance.features import feature, requires
from adagrad.reference import SparseGrad

DTYPES = ("float64", "float32", "float16", "bfloat16")


@feature("foreach")
@pytest.mark.spec("R27")
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_foreach_matches_oracle(target, record_ulps, dtype, data):
    """foreach=True over 1-6 parameters of different shapes follows the oracle within the model."""
    case = data.draw(cases(dtype=dtype, hyper=lr_only(), n_params=(1, 6), steps=(1, 6), options={"foreach": True}))
    check_case(target, case, record_ulps, what=f"foreach {dtype}")


@feature("fused")
@pytest.mark.spec("R27")
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_fused_matches_oracle(target, record_ulps, dtype, data):
    """fused=True follows the oracle; sizes above 32 reach vectorised kernel bodies and their tails."""
    case = data.draw(
        cases(
            dtype=dtype,
            hyper=lr_only(),
            n_params=(1, 3),
            steps=(1, 6),
            shape=shapes(max_elements=80),
            options={"fused": True},
        )
    )
    check_case(target, case, record_ulps, what=f"fused {dtype}")


def _snapshot(target, opt, params) -> list:
    """Each param and its (sum, step) as copies (None: no state yet)."""
    state = target_state(target, opt)
    return [
        (p.detach().clone(), None if entry is None else tuple(torch.as_tensor(x).clone() for x in entry))
        for p, entry in zip(params, state, strict=True)
    ]


#: What torch's fused path refuses, as a case: (parameter, gradient) in float64 (complex128).
REFUSED = {
    "complex": (np.array([1.0 + 2.0j, -0.5 + 0.25j]), np.array([0.5 - 1.0j, 2.0 + 0.0j])),
    "sparse": (np.array([1.0, 2.0, 3.0, 4.0]), SparseGrad(np.array([[0, 2, 0]]), np.array([1.0, 2.0, 3.0]), (4,))),
}


@feature("fused")
@pytest.mark.spec("R27", "R9", "R11")
@pytest.mark.parametrize("needs", [pytest.param(n, id=n, marks=requires(n)) for n in REFUSED])
def test_fused_refuses_cleanly_or_computes(target, record_ulps, needs):
    """fused=True with a complex parameter or a sparse gradient: torch's RuntimeError (type and
    message), raised before the param or its state changed; or, without a refusal, R11 / R9's
    update within the error model."""
    param, grad = REFUSED[needs]
    dtype = "complex128" if needs == "complex" else "float64"
    p = to_torch(param, dtype).requires_grad_()
    opt, before = None, []
    try:
        opt = target.make([p], lr=0.5, fused=True)
        before = _snapshot(target, opt, [p])
        p.grad = (
            torch.sparse_coo_tensor(torch.as_tensor(grad.indices), to_torch(grad.values, dtype), grad.shape)
            if needs == "sparse"
            else to_torch(grad, dtype)
        )
        opt.step()
    except Exception as exc:  # noqa: BLE001 - judged here: only torch's refusal passes
        kind, pattern = REFUSALS[("fused", needs)]
        assert isinstance(exc, kind) and re.search(pattern, str(exc)), (
            f"refused with {type(exc).__name__}: {exc}; torch refuses with {kind.__name__} matching {pattern!r}"
        )
        if opt is not None:
            for (p0, s0), (p1, s1) in zip(before, _snapshot(target, opt, [p])):
                same_state = (
                    s0 is None and s1 is None or (s0 is not None and s1 is not None and all(map(torch.equal, s0, s1)))
                )
                assert torch.equal(p0, p1) and same_state, (
                    f"fused {needs}: the refusal came after the param or its state had changed"
                )
        return
    case = Case(
        dtype=dtype, params=[param], grads=[[grad]], groups=[{"lr": 0.5, "params": [0]}], options={"fused": True}
    )
    check_case(target, case, record_ulps, what=f"fused {needs} (not refused, so it must be right)")
