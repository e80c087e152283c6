"""Complex parameters (R11): real and imaginary parts with separate accumulators starting at tau."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.features import feature
from adagrad.conformance.harness import check_case
from adagrad.conformance.strategies import cases

pytestmark = feature("complex")


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
@given(data=st.data())
def test_complex_free_running(target, record_ulps, dtype, data):
    """R11: a complex trajectory equals its real pairs', within the component dtype's model."""
    check_case(target, data.draw(cases(dtype=dtype, steps=(1, 6))), record_ulps, what=f"{dtype}")


@pytest.mark.parametrize("dtype", ["complex128", "complex64"])
@given(data=st.data())
def test_complex_teacher_forced(target, record_ulps, dtype, data):
    """R11: one step from a loaded complex sum (distinct real and imaginary accumulators)."""
    check_case(target, data.draw(cases(dtype=dtype, teacher_forced=True)), record_ulps, what=f"{dtype} teacher-forced")
