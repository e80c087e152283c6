"""lr as a 1-element tensor (R8): its value is used, as its dtype holds it."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.features import feature
from adagrad.conformance.harness import clone_case, check_case
from adagrad.conformance.strategies import cases

pytestmark = feature("tensor-lr")

COMBOS = [("float64", "float64"), ("float32", "float32"), ("float64", "float32")]


@pytest.mark.parametrize(("dtype", "lr_dtype"), COMBOS, ids=[f"param_{a}-lr_{b}" for a, b in COMBOS])
@given(data=st.data())
def test_tensor_lr_matches_oracle(target, record_ulps, dtype, lr_dtype, data):
    """R8: a 1-element lr tensor acts as its (dtype-rounded) value, also when edited mid-run."""
    case = data.draw(cases(dtype=dtype, steps=(1, 5)))
    case = clone_case(case, lr_tensor_dtype=lr_dtype)
    if len(case.grads) > 1:
        case.edits = {1: [(0, "lr", case.groups[0]["lr"] / 3)]}
    check_case(target, case, record_ulps, what=f"tensor lr ({lr_dtype})")


@pytest.mark.parametrize("lr", [torch.tensor([0.1, 0.2]), torch.tensor([[0.1, 0.2], [0.3, 0.4]])], ids=["2", "2x2"])
def test_tensor_lr_must_have_one_element(target, lr):
    """R8: any other tensor raises ValueError: Tensor lr must be 1-element."""
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        target.make([torch.zeros(2, requires_grad=True)], lr=lr)
