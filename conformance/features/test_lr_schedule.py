"""Hyperparameters edited in param_groups between steps (R31), as schedulers do."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.features import feature
from adagrad.conformance.harness import check_case
from adagrad.conformance.strategies import EPS, cases

pytestmark = feature("lr-schedule")

EDITS = {
    "lr": st.floats(1e-3, 1.0),
    "lr_decay": st.floats(0.0, 0.5),
    "weight_decay": st.floats(0.0, 0.5),
    "eps": st.sampled_from(sorted(EPS.values())),
    "maximize": st.booleans(),
}


@pytest.mark.parametrize("key", list(EDITS))
@given(data=st.data())
def test_edit_takes_effect_next_step(target, record_ulps, key, data):
    """R31: param_groups[0][key] changed before a step is used from that step on."""
    case = data.draw(cases(dtype="float64", steps=(2, 6)))
    at = data.draw(st.integers(1, len(case.grads) - 1))
    case.edits = {at: [(0, key, data.draw(EDITS[key]))]}
    check_case(target, case, record_ulps, what=f"{key} edited before step {at + 1}")
