"""The foreach and fused paths (R27): same rule, same error model, torch's errors where refused."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.features import feature
from adagrad.conformance.harness import check_case
from adagrad.conformance.strategies import cases, shapes

DTYPES = ("float64", "float32", "float16", "bfloat16")


@feature("foreach")
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_foreach_matches_oracle(target, record_ulps, dtype, data):
    """R27: foreach=True over 1-4 parameters follows the oracle within the error model."""
    case = data.draw(cases(dtype=dtype, n_params=(1, 4), steps=(1, 6), options={"foreach": True}))
    check_case(target, case, record_ulps, what=f"foreach {dtype}")


@feature("fused")
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_fused_matches_oracle(target, record_ulps, dtype, data):
    """R27: fused=True follows the oracle; sizes above 32 reach vectorised kernel bodies."""
    case = data.draw(cases(dtype=dtype, n_params=(1, 3), steps=(1, 6), shape=shapes(max_elements=80), options={"fused": True}))
    check_case(target, case, record_ulps, what=f"fused {dtype}")


@feature("fused")
def test_fused_rejects_complex(target):
    """R27: fused=True refuses complex parameters with a RuntimeError naming fused."""
    p = torch.zeros(3, dtype=torch.complex64, requires_grad=True)
    with pytest.raises(RuntimeError, match="fused"):
        opt = target.make([p], fused=True)
        p.grad = torch.ones_like(p)
        opt.step()


@feature("fused")
def test_fused_rejects_sparse(target):
    """R27: fused=True refuses sparse gradients: `fused` does not support sparse grad or complex param."""
    p = torch.zeros(4, requires_grad=True)
    opt = target.make([p], fused=True)
    p.grad = torch.sparse_coo_tensor([[0, 2]], [1.0, 2.0], (4,))
    with pytest.raises(RuntimeError, match="`fused` does not support sparse grad or complex param"):
        opt.step()
