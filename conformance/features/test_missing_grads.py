"""Parameters without gradients for some steps (R15): skipped, their step does not advance."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.features import feature
from adagrad.conformance.harness import check_case, clone_case
from adagrad.conformance.strategies import cases

pytestmark = feature("missing-grads")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@given(data=st.data())
def test_params_without_grad_are_skipped(target, record_ulps, dtype, data):
    """R15: a None gradient leaves param, sum and step alone; others update as usual."""
    case = data.draw(cases(dtype=dtype, n_params=(2, 3), steps=(2, 6)))
    mask = data.draw(st.lists(st.lists(st.booleans(), min_size=len(case.params), max_size=len(case.params)),
                              min_size=len(case.grads), max_size=len(case.grads)))
    grads = [[g if keep else None for g, keep in zip(step, row)] for step, row in zip(case.grads, mask)]
    check_case(target, clone_case(case, grads=grads), record_ulps, what="missing grads")


@given(data=st.data())
def test_zero_grad_is_not_skipped(target, record_ulps, data):
    """R15: a zero gradient is a step: t advances, weight decay still moves the param."""
    case = data.draw(cases(dtype="float64", steps=(1, 4)))
    case.groups[0]["initial_accumulator_value"] = 0.5  # keep 0/0 out: this test is about skipping
    grads = [[g * 0 for g in step] for step in case.grads]
    check_case(target, clone_case(case, grads=grads), record_ulps, what="zero gradients")
