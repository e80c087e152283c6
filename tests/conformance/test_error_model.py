"""The error model in the float64 subnormal range and at the edges of the scaled arithmetic.

docs/error-model.md, "Underflow": each operation whose result lands in the subnormal range may
add an absolute error of half the smallest subnormal, ``η = 2**-1075``; ``k`` such operations add
``k η``. The expected tolerances below are derived by hand from that rule, not read from the code.
"""

from __future__ import annotations

import numpy as np
import pytest

from adagrad.conformance.engine.error_model import ErrorTracker, step_bound, step_error
from adagrad.conformance.engine.harness import compare_arrays
from adagrad.reference import adagrad_step

TINY = float(np.finfo(np.float64).smallest_subnormal)  # 2**-1074 = 2 η: one float64 ulp down there


def _subnormal_case(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Parameters and gradients in the float64 subnormal range (a few thousand subnormals each)."""
    rng = np.random.default_rng(seed)
    g = np.ldexp(rng.integers(1, 2**20, n).astype(np.float64), -1074)
    p = np.ldexp(rng.integers(-(2**40), 2**40, n).astype(np.float64), -1074)
    return p, g


#: eps = 0.5 keeps the denominator normal (sqrt(g*g) underflows to 0): d = 0.5 exactly.
HYPER = dict(lr=0.1, lr_decay=0.0, weight_decay=0.0, eps=0.5)


def test_two_rounding_orders_in_the_float64_subnormal_range_are_both_accepted():
    """p - (lr*g)/d (the oracle's order) and p - lr*(g/d) differ by one subnormal; both pass.

    Derivation: the update and p - update land in the subnormal range, one rounding of η each;
    the update's first operation too, carried through the second: times lr for g/d then lr*q, times
    1/d for lr*g then /d (both orders allowed): (2 + lr + 1/d) η for the target, as much for the
    oracle, so the tolerance is 2 (2 + 0.1 + 2) η = 4.1 subnormals (other terms are relative to
    subnormal values: below 2**-50 η). Differences of float64 numbers are whole subnormals, so 4
    subnormals are accepted and 5 are not.
    """
    p, g = _subnormal_case()
    want, _, _ = adagrad_step(p, g, np.zeros_like(p), 0, **HYPER)
    d = np.sqrt(g * g) + HYPER["eps"]
    other_order = p - HYPER["lr"] * (g / d)
    assert (np.abs(want) < 2.0**-1022).all()  # the results are subnormal
    assert np.abs(other_order - want).max() == TINY  # the two orders do differ, by one ulp
    bound = ErrorTracker("float64", p.shape).step(p, g, np.zeros_like(p), 0, **HYPER)
    for allowed in (want, other_order, want + 4 * TINY, want - 4 * TINY):
        worst, problem = compare_arrays(allowed, want, bound.param, "float64", p)
        assert problem is None, problem
    _, problem = compare_arrays(want + 5 * TINY, want, bound.param, "float64", p)
    assert problem is not None
    _, problem = compare_arrays(want - 5 * TINY, want, bound.param, "float64", p)
    assert problem is not None


def test_step_bound_agrees_with_the_tracker_in_the_subnormal_range():
    p, g = _subnormal_case(200, seed=1)
    a = step_bound(p, g, np.zeros_like(p), 0, dtype="float64", **HYPER)
    b = ErrorTracker("float64", p.shape).step(p, g, np.zeros_like(p), 0, **HYPER)
    assert np.array_equal(a.param, b.param) and np.array_equal(a.sum, b.sum)
    assert (a.param == 4 * TINY).all()  # floor(4.1) subnormals, derived above


def test_half_subnormals_carried_between_steps_are_not_rounded_away():
    """Two steps with lr = 0.5: each adds 2 (2 + 0.5 + 2) η = 4.5 subnormals; together 9, not 4 + 4.

    A step alone is worth 4.5 subnormals, of which a float64 bound can hold 4; the tracker
    carries the exact count, so after two steps the tolerance is floor(9.0) = 9 subnormals.
    """
    hyper = {**HYPER, "lr": 0.5}
    p, g = _subnormal_case(500, seed=2)
    tracker = ErrorTracker("float64", p.shape)
    first = tracker.step(p, g, np.zeros_like(p), 0, **hyper)
    assert (first.param == 4 * TINY).all()
    p1, s1, _ = adagrad_step(p, g, np.zeros_like(p), 0, **hyper)
    assert (np.abs(p1) < 2.0**-1022).all()
    second = tracker.step(p1, g, s1, 1, **hyper)
    assert (second.param == 9 * TINY).all()


def test_one_float64_step_alone_is_worth_its_underflows():
    """The target's own error (no oracle): (2 + lr + 1/d) η = 2.05 subnormals, so 2 whole ones."""
    p, g = _subnormal_case(100, seed=3)
    b = step_error(p, g, np.zeros_like(p), 0, dtype="float64", **HYPER)
    assert (b.param == 2 * TINY).all()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_huge_values_keep_a_finite_bound(dtype):
    """Errors near float64's range are computed unscaled (scaled they would overflow): still finite.

    The bound of the new accumulator includes at least one rounding of it, u |s'|.
    """
    big = 1e300 if dtype == "float64" else 1e37
    p = np.array([big, 1.0, -big])
    g = np.array([1e150 if dtype == "float64" else 1e18, 0.5, 1.0])
    s = np.array([big, 0.0, 1.0])
    tracker = ErrorTracker(dtype, p.shape)
    b = tracker.step(p, g, s, 0, lr=0.1, lr_decay=0.0, weight_decay=0.0, eps=1e-10)
    assert np.isfinite(b.param).all() and np.isfinite(b.sum).all()
    s_new = s + g * g
    u = 2.0**-53 if dtype == "float64" else 2.0**-24
    assert (b.sum >= u * s_new).all()
    b2 = tracker.step(p, g, s_new, 1, lr=0.1, lr_decay=0.0, weight_decay=0.0, eps=1e-10)
    assert np.isfinite(b2.param).all() and (b2.param >= b.param).all()


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_an_exact_zero_gradient_leaves_the_param_within_its_own_roundings(dtype):
    """g = ±0 exactly, without weight decay: every order of γ̃·g/d gives an exact 0, so even
    where d is only eps (a zero sum) the bound on a subnormal param is a few of its ulps, not
    the η/d a nonzero gradient's underflow could reach: flushing it to zero is caught."""
    from adagrad.conformance.engine.dtypes import FORMATS

    tiny = 2.0 ** (FORMATS[dtype].min_exponent - 2)  # a subnormal, exact in every format
    p, s = np.array([tiny, -tiny]), np.zeros(2)
    eps = 2.0 ** FORMATS[dtype].min_exponent  # the smallest normal: d = eps is tiny but not 0
    hyper = dict(lr=0.1, lr_decay=0.0, eps=eps, dtype=dtype)
    zero = step_error(p, np.array([0.0, -0.0]), s, 0, weight_decay=0.0, **hyper).param
    assert np.all(zero < tiny / 8), zero  # flushing tiny to 0 is outside the model
    nonzero = step_error(p, np.array([tiny, -tiny]), s, 0, weight_decay=0.0, **hyper).param
    decayed = step_error(p, np.array([0.0, -0.0]), s, 0, weight_decay=0.5, **hyper).param
    assert np.all(nonzero > zero) and np.all(decayed > zero)  # an update that can underflow keeps its term
