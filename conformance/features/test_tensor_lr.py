"""lr as a 1-element tensor (R8), on every path: its value is used, as its dtype holds it, also
when a new tensor is put in param_groups mid-run."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.engine.harness import check_case, clone_case
from adagrad.conformance.engine.strategies import cases, lr_only, path_params
from adagrad.conformance.features import feature

pytestmark = [feature("tensor-lr"), pytest.mark.spec("R8")]

COMBOS = [("float64", "float64"), ("float32", "float32"), ("float64", "float32")]


@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize(("dtype", "lr_dtype"), COMBOS, ids=[f"param_{a}-lr_{b}" for a, b in COMBOS])
@given(data=st.data())
def test_tensor_lr_matches_oracle(target, record_ulps, dtype, lr_dtype, options, data):
    """A 1-element lr tensor acts as its (dtype-rounded) value; every case also replaces it by
    another tensor between two steps (R31), which takes effect at the next step."""
    case = data.draw(cases(dtype=dtype, hyper=lr_only(), steps=(2, 5), options=options))
    at = data.draw(st.integers(1, len(case.grads) - 1))
    case = clone_case(case, lr_tensor_dtype=lr_dtype, edits={at: [(0, "lr", data.draw(st.floats(1e-3, 1.0)))]})
    check_case(target, case, record_ulps, what=f"tensor lr ({lr_dtype}), replaced before step {at + 1}")


@pytest.mark.parametrize("lr", [torch.tensor([0.1, 0.2]), torch.tensor([[0.1, 0.2], [0.3, 0.4]])], ids=["2", "2x2"])
def test_tensor_lr_must_have_one_element(target, lr):
    """Any other tensor raises ValueError: Tensor lr must be 1-element."""
    with pytest.raises(ValueError, match="^Tensor lr must be 1-element$"):
        target.make([torch.zeros(2, requires_grad=True)], lr=lr)
