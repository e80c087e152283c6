"""Complex parameters (R11), on every path: real and imaginary parts with separate accumulators
starting at tau. torch's fused path refuses complex parameters; a target may refuse them the
same way or compute them correctly (R27)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.engine.strategies import cases, check_or_refused, lr_only, path_params
from adagrad.conformance.features import feature

pytestmark = [feature("complex"), pytest.mark.spec("R11", "R27")]


@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
@given(data=st.data())
def test_complex_free_running(target, record_ulps, dtype, options, data):
    """A complex trajectory equals its real pairs', within the component dtype's model; both
    accumulators start at tau (drawn, 0 included)."""
    hyper = st.tuples(lr_only(), st.sampled_from([0.0, 0.5, 1.5])).map(
        lambda t: {**t[0], "initial_accumulator_value": t[1]}
    )
    case = data.draw(cases(dtype=dtype, hyper=hyper, steps=(1, 6), options=options))
    check_or_refused(target, case, record_ulps, what=dtype, needs="complex")


@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
@given(data=st.data())
def test_complex_teacher_forced(target, record_ulps, dtype, options, data):
    """One step from a loaded complex sum (distinct real and imaginary accumulators)."""
    case = data.draw(cases(dtype=dtype, hyper=lr_only(), teacher_forced=True, options=options))
    check_or_refused(target, case, record_ulps, what=f"{dtype} teacher-forced", needs="complex")
