"""Parameters without gradients for some steps (R15), on every path: skipped, their step does not
advance; a zero gradient is not skipped."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.engine.harness import check_case, clone_case
from adagrad.conformance.engine.strategies import cases, lr_only, path_params
from adagrad.conformance.features import feature

pytestmark = [feature("missing-grads"), pytest.mark.spec("R15")]


@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@given(data=st.data())
def test_params_without_grad_are_skipped(target, record_ulps, dtype, options, data):
    """A None gradient leaves param, sum and step alone; the others update as usual. Every case
    has a parameter without a gradient at step 2 and one with a gradient at step 1; the rest is drawn."""
    case = data.draw(cases(dtype=dtype, hyper=lr_only(), n_params=(2, 3), steps=(2, 6), options=options))
    n = len(case.params)
    mask = data.draw(
        st.lists(st.lists(st.booleans(), min_size=n, max_size=n), min_size=len(case.grads), max_size=len(case.grads))
    )
    mask[0][1], mask[1][0] = True, False
    grads = [[g if keep else None for g, keep in zip(step, row)] for step, row in zip(case.grads, mask)]
    check_case(target, clone_case(case, grads=grads), record_ulps, what="missing grads")


@pytest.mark.parametrize("options", path_params())
@given(data=st.data())
def test_zero_grad_is_not_skipped(target, record_ulps, options, data):
    """A zero gradient is a step: t advances, s gains nothing, the param stays."""
    case = data.draw(cases(dtype="float64", hyper=lr_only(), steps=(1, 4), options=options))
    grads = [[g * 0 for g in step] for step in case.grads]
    check_case(target, clone_case(case, grads=grads), record_ulps, what="zero gradients")
