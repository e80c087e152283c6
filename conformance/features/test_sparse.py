"""Sparse COO gradients (R9, R10): uncoalesced, duplicate indices summed before squaring."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.features import feature
from adagrad.conformance.harness import Case, check_case
from adagrad.conformance.strategies import arrays, hyperparameters
from adagrad.reference import SparseGrad

pytestmark = feature("sparse")


@st.composite
def sparse_cases(draw, *, dtype: str) -> Case:
    rows = draw(st.integers(1, 8))
    cols = draw(st.sampled_from([(), (1,), (3,)]))
    shape = (rows, *cols)
    hyper = draw(hyperparameters(weight_decay=False))
    steps = []
    for _ in range(draw(st.integers(1, 5))):
        nnz = draw(st.integers(0, 2 * rows))
        idx = np.array([draw(st.lists(st.integers(0, rows - 1), min_size=nnz, max_size=nnz))], dtype=np.int64).reshape(1, nnz)
        values = draw(arrays(dtype=dtype, shape=(nnz, *cols), kind="grad")) / 2  # halves stay exact
        steps.append([SparseGrad(idx, values, shape)])
    params = [draw(arrays(dtype=dtype, shape=shape, kind="param"))]
    return Case(dtype=dtype, params=params, grads=steps, groups=[{**hyper, "params": [0]}])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@given(data=st.data())
def test_sparse_matches_oracle(target, record_ulps, dtype, data):
    """R9: duplicates summed then squared; only present rows of param and sum change."""
    check_case(target, data.draw(sparse_cases(dtype=dtype)), record_ulps, what=f"sparse {dtype}")


def test_sparse_with_weight_decay_raises(target):
    """R10: a sparse gradient with weight_decay != 0 raises torch's RuntimeError."""
    p = torch.zeros(4, 2, requires_grad=True)
    opt = target.make([p], weight_decay=0.1)
    p.grad = torch.sparse_coo_tensor([[0, 0, 3]], torch.ones(3, 2), (4, 2))
    with pytest.raises(RuntimeError, match="weight_decay option is not compatible with sparse gradients"):
        opt.step()
