"""Hyperparameters edited in param_groups between steps (R31), as schedulers do, on every path,
in float64 and float32. Each case starts from the defaults and edits one key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.engine.harness import check_case
from adagrad.conformance.engine.strategies import EPS, cases, lr_only, path_params
from adagrad.conformance.features import feature

pytestmark = [feature("lr-schedule"), pytest.mark.spec("R31")]

EDITS = {
    "lr": st.floats(1e-3, 1.0),
    "lr_decay": st.floats(1e-3, 0.5),
    "weight_decay": st.floats(1e-3, 0.5),
    "eps": st.sampled_from([EPS["large"], EPS["zero"]]),
    "maximize": st.just(True),
}


@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("key", list(EDITS))
@given(data=st.data())
def test_edit_takes_effect_next_step(target, record_ulps, key, dtype, options, data):
    """param_groups[0][key] changed before a step is used from that step on."""
    case = data.draw(cases(dtype=dtype, hyper=lr_only(), steps=(2, 6), options=options))
    at = data.draw(st.integers(1, len(case.grads) - 1))
    case.edits = {at: [(0, key, data.draw(EDITS[key]))]}
    check_case(target, case, record_ulps, what=f"{dtype} {key} edited before step {at + 1}")
