"""Every combination of lr_decay, weight_decay, tau, maximize on/off and eps tiny/large/zero (R3-R7).

The grid is parametrized (48 combinations); values, shapes and gradient sequences are drawn.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.features import feature
from adagrad.conformance.harness import check_case
from adagrad.conformance.strategies import EPS, cases, hyperparameters

pytestmark = feature("hyperparameters")

GRID = [
    pytest.param(dict(lr_decay=d, weight_decay=w, initial_accumulator_value=t, eps=e, maximize=m),
                 id=f"decay{int(d)}-wd{int(w)}-tau{int(t)}-eps_{e}-max{int(m)}")
    for d, w, t, e, m in itertools.product([False, True], [False, True], [False, True], sorted(EPS), [False, True])
]


@pytest.mark.parametrize("flags", GRID)
@given(data=st.data())
def test_flag_combination(target, record_ulps, flags, data):
    """R3 lr_decay, R4 maximize, R5 weight_decay, R6 tau, R7 eps: a 1-6 step trajectory per combination.

    float64, where the error model is tightest; the other dtypes have their own features.
    """
    case = data.draw(cases(dtype="float64", hyper=hyperparameters(**flags), steps=(1, 6)))
    check_case(target, case, record_ulps, what=f"float64 {flags}")
