"""The comparison layer: what counts as a deviation (docs/error-model.md)."""

from __future__ import annotations

import numpy as np
import pytest

from adagrad.conformance.engine.harness import OutsideErrorModel, compare_arrays

CASES = [
    # (actual, expected, bound, deviates)
    pytest.param([1.0], [1.0], [0.0], False, id="exact"),
    pytest.param([1.0 + 2e-16], [1.0], [4e-16], False, id="within-bound"),
    pytest.param([1.0 + 1e-15], [1.0], [4e-16], True, id="outside-bound"),
    pytest.param([np.nan], [np.nan], [np.nan], False, id="nan-matches-nan"),
    pytest.param([1.0], [np.nan], [np.nan], True, id="finite-where-oracle-nan"),
    pytest.param([np.inf], [np.inf], [np.nan], False, id="inf-matches-inf"),
    pytest.param([-np.inf], [np.inf], [np.nan], True, id="wrong-infinity"),
    pytest.param([np.nan], [1.0], [1.0], True, id="nan-where-oracle-finite"),
]


@pytest.mark.parametrize(("actual", "expected", "bound", "deviates"), CASES)
def test_compare_arrays_R25(actual, expected, bound, deviates):
    """R25: non-finite expected values match exactly; finite ones within the bound."""
    _, problem = compare_arrays(np.array(actual), np.array(expected), np.array(bound), "float64")
    assert (problem is not None) == deviates, problem


def test_infinite_bound_is_an_invalid_case():
    """A finite expected value without a bound is the case's fault: it raises, never passes."""
    with pytest.raises(OutsideErrorModel, match="the case itself is invalid"):
        compare_arrays(np.array([5.0]), np.array([1.0]), np.array([np.inf]), "float32")


TINY = float(np.finfo(np.float64).smallest_subnormal)


def test_ulps_at_zero_and_in_the_subnormal_range_are_subnormals():
    """ulp(0) is the smallest subnormal (np.spacing(0.0)): a subnormal off at 0 is 1 ulp, not 1e-308."""
    worst, problem = compare_arrays(
        np.array([TINY, 5 * TINY]), np.array([0.0, 3 * TINY]), np.array([TINY, 2 * TINY]), "float64"
    )
    assert problem is None and worst == 2.0
    worst, _ = compare_arrays(np.array([np.float32(2.0**-149)]), np.array([0.0]), np.array([1.0]), "float32")
    assert worst == 1.0


def test_whole_subnormal_bound_accepts_exactly_that_many():
    """A bound of 2 subnormals accepts 2 and rejects 3 (differences of float64s are whole subnormals)."""
    e = np.array([7 * TINY])
    assert compare_arrays(e + 2 * TINY, e, np.array([2 * TINY]), "float64")[1] is None
    assert compare_arrays(e - 3 * TINY, e, np.array([2 * TINY]), "float64")[1] is not None
