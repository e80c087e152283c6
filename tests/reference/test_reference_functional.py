"""Properties of the oracle's pure step functions (``adagrad_step``, ``sparse_adagrad_step``).

Each property is a sentence of docs/spec.md; the rule ID is in the test's name.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from reference_helpers import finite_arrays, shapes, ulps_apart

from adagrad.reference import SPARSE_WEIGHT_DECAY_ERROR, SparseGrad, adagrad_step, decayed_lr, sparse_adagrad_step

lrs = st.floats(1e-4, 10.0)
decays = st.one_of(st.just(0.0), st.floats(1e-4, 2.0))
taus = st.one_of(st.just(0.0), st.floats(1e-6, 10.0))
positive_eps = st.floats(1e-12, 1.0)
steps_taken = st.integers(0, 1000)


@st.composite
def dense_case(draw, *, dyadic: bool = False):
    """(param, grad, sum, step taken so far) with a non-negative sum."""
    shape = draw(shapes())
    p = draw(finite_arrays(shape, dyadic=dyadic))
    g = draw(finite_arrays(shape, dyadic=dyadic))
    s = np.abs(draw(finite_arrays(shape, dyadic=dyadic)))
    return p, g, s, draw(steps_taken)


# -- R7, R15: zero gradient ---------------------------------------------------------------------
@given(
    case=dense_case(),
    dtype=st.sampled_from([np.float64, np.float32, np.float16]),
    tau_zero=st.booleans(),
    lr=lrs,
    lr_decay=decays,
    eps=positive_eps,
    maximize=st.booleans(),
)
def test_zero_grad_with_positive_eps_keeps_param_R7_R15_D3(case, dtype, tau_zero, lr, lr_decay, eps, maximize):
    """A zero gradient with eps > 0 leaves theta and s unchanged and advances t (R7, R15).

    float32/float16 inputs included: the oracle computes in float64, so even eps = 1e-12, below
    float16's range, keeps theta unchanged (D3: R7 holds in every dtype).
    """
    p, _, s, t = case
    p = p.astype(dtype)
    if tau_zero:
        s = np.zeros_like(s)
    g = np.zeros_like(p)
    new_p, new_s, new_t = adagrad_step(p, g, s, t, lr=lr, lr_decay=lr_decay, eps=eps, maximize=maximize)
    np.testing.assert_array_equal(new_p, p.astype(np.float64))
    np.testing.assert_array_equal(new_s, s)
    assert new_t == t + 1


def test_zero_grad_zero_sum_zero_eps_is_nan_R7():
    """eps = 0, s = 0, g = 0: the update is 0/0, NaN (R7)."""
    p, s, t = adagrad_step(np.array([1.0, 2.0]), np.zeros(2), np.zeros(2), 0, lr=0.1, eps=0.0)
    assert np.isnan(p).all()
    np.testing.assert_array_equal(s, np.zeros(2))
    assert t == 1


# -- R4: maximize -------------------------------------------------------------------------------
@given(
    case=dense_case(),
    lr=lrs,
    lr_decay=decays,
    weight_decay=st.one_of(st.just(0.0), st.floats(1e-4, 1.0)),
    eps=positive_eps,
)
def test_maximize_on_g_equals_minimize_on_minus_g_R4(case, lr, lr_decay, weight_decay, eps):
    """maximize with g is minimize with -g, bitwise, weight decay included (flip first: R4, R5)."""
    p, g, s, t = case
    hyper = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps)
    got = adagrad_step(p, g, s, t, maximize=True, **hyper)
    want = adagrad_step(p, -g, s, t, maximize=False, **hyper)
    for a, b in zip(got[:2], want[:2]):
        np.testing.assert_array_equal(a, b)
    assert got[2] == want[2] == t + 1


def test_maximize_flips_before_weight_decay_R4_R5():
    """g = -g + wd*theta, not -(g + wd*theta): with g = 0 the two orders differ in sign (R4)."""
    _, s, _ = adagrad_step(
        np.array([2.0]), np.array([1.0]), np.array([0.0]), 0, lr=0.1, weight_decay=1.0, maximize=True
    )
    assert s[0] == 1.0  # (-1 + 1*2)^2; the other order gives (-(1 + 2))^2 = 9


# -- R11: complex -------------------------------------------------------------------------------
@given(
    shape=shapes(max_dims=2),
    data=st.data(),
    lr=lrs,
    lr_decay=decays,
    weight_decay=st.one_of(st.just(0.0), st.floats(1e-4, 1.0)),
    eps=positive_eps,
    maximize=st.booleans(),
)
def test_complex_equals_real_pairs_R11(shape, data, lr, lr_decay, weight_decay, eps, maximize):
    """A complex step is the real step on (real, imag) pairs with separate accumulators (R11)."""
    re_p, im_p, re_g, im_g = (data.draw(finite_arrays(shape)) for _ in range(4))
    re_s, im_s = (np.abs(data.draw(finite_arrays(shape))) for _ in range(2))
    t = data.draw(steps_taken)
    hyper = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps, maximize=maximize)
    p, s, new_t = adagrad_step(re_p + 1j * im_p, re_g + 1j * im_g, re_s + 1j * im_s, t, **hyper)
    pairs = [np.stack([a, b], axis=-1) for a, b in ((re_p, im_p), (re_g, im_g), (re_s, im_s))]
    rp, rs, rt = adagrad_step(*pairs, t, **hyper)
    assert np.iscomplexobj(p) and np.iscomplexobj(s)
    np.testing.assert_array_equal(p.real, rp[..., 0])
    np.testing.assert_array_equal(p.imag, rp[..., 1])
    np.testing.assert_array_equal(s.real, rs[..., 0])
    np.testing.assert_array_equal(s.imag, rs[..., 1])
    assert new_t == rt == t + 1


def test_complex_accumulators_are_independent_R11():
    """g = 3+4j on s = 0: s = 9+16j (per part), not |g|^2 = 25 in both parts (R11)."""
    p, s, _ = adagrad_step(np.array([1 + 1j]), np.array([3 + 4j]), np.array([0j]), 0, lr=0.5, eps=0.0)
    assert s[0] == 9 + 16j
    assert p[0] == (1 - 0.5) + (1 - 0.5) * 1j  # each part moves by lr * g / |g|


# -- R9: sparse ---------------------------------------------------------------------------------
@st.composite
def sparse_case(draw):
    """(param, SparseGrad with possibly repeated indices, sum, step) with dyadic values.

    Dyadic values (multiples of 1/8, small) make every sum of duplicates exact, so the
    comparison with an independently summed dense gradient can be bitwise.
    """
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    sparse_dims = draw(st.integers(1, len(shape)))
    nnz = draw(st.integers(0, 8))
    rows = [tuple(draw(st.integers(0, n - 1)) for n in shape[:sparse_dims]) for _ in range(nnz)]
    if rows and draw(st.booleans()):
        rows.append(rows[0])  # make a duplicate likely
    values = draw(finite_arrays((len(rows), *shape[sparse_dims:]), dyadic=True))
    indices = np.array(rows, dtype=np.int64).reshape(len(rows), sparse_dims).T
    p = draw(finite_arrays(shape))
    s = np.abs(draw(finite_arrays(shape, dyadic=True)))
    return p, SparseGrad(indices, values, shape), s, draw(steps_taken), rows, sparse_dims


@given(case=sparse_case(), lr=lrs, lr_decay=decays, eps=positive_eps, maximize=st.booleans())
def test_sparse_equals_dense_on_touched_rows_R9(case, lr, lr_decay, eps, maximize):
    """Touched rows: the dense step on the duplicate-summed gradient; others: untouched (R9)."""
    p, grad, s, t, rows, sparse_dims = case
    dense = np.zeros(p.shape)
    for row, value in zip(rows, grad.values):  # duplicates summed, independently of the oracle
        dense[row] += value
    hyper = dict(lr=lr, lr_decay=lr_decay, eps=eps, maximize=maximize)
    sp, ss, st_ = sparse_adagrad_step(p, grad, s, t, **hyper)
    dp, ds, dt = adagrad_step(p, dense, s, t, **hyper)
    touched = np.zeros(p.shape[:sparse_dims], dtype=bool)
    for row in rows:
        touched[row] = True
    np.testing.assert_array_equal(sp[touched], dp[touched])
    np.testing.assert_array_equal(ss[touched], ds[touched])
    np.testing.assert_array_equal(sp[~touched], p[~touched])
    np.testing.assert_array_equal(ss[~touched], s[~touched])
    assert st_ == dt == t + 1


def test_sparse_duplicates_summed_before_squaring_R9():
    """Index 0 twice with value 1: s gains (1+1)^2 = 4, not 1^2 + 1^2 = 2 (R9)."""
    grad = SparseGrad(np.array([[0, 0]]), np.array([1.0, 1.0]), (3,))
    p, s, t = sparse_adagrad_step(np.zeros(3), grad, np.zeros(3), 0, lr=1.0, eps=0.0)
    np.testing.assert_array_equal(s, [4.0, 0.0, 0.0])
    np.testing.assert_array_equal(p, [-1.0, 0.0, 0.0])
    assert t == 1


def test_sparse_with_weight_decay_raises_R10_D4():
    """A sparse gradient with weight_decay != 0 raises torch's RuntimeError (R10, D4)."""
    grad = SparseGrad(np.array([[1]]), np.array([1.0]), (3,))
    p, s = np.ones(3), np.zeros(3)
    with pytest.raises(RuntimeError, match=f"^{SPARSE_WEIGHT_DECAY_ERROR}$"):
        sparse_adagrad_step(p, grad, s, 0, lr=0.1, weight_decay=0.01)
    np.testing.assert_array_equal(p, np.ones(3))
    np.testing.assert_array_equal(s, np.zeros(3))
    assert SPARSE_WEIGHT_DECAY_ERROR == "weight_decay option is not compatible with sparse gradients"


# -- R3: lr_decay -------------------------------------------------------------------------------
@given(lr=lrs, lr_decay=decays, t=st.integers(1, 10**6))
def test_decayed_lr_is_lr_over_one_plus_t_minus_one_decay_R3(lr, lr_decay, t):
    """decayed_lr is within 2 ulps of lr / (1 + (t-1) * lr_decay) computed exactly (R3).

    The oracle takes three rounded operations, each within half an ulp; undecayed at t = 1.
    """
    exact = Fraction(lr) / (1 + (t - 1) * Fraction(lr_decay))
    assert ulps_apart(decayed_lr(lr, lr_decay, t), exact) <= 2
    assert decayed_lr(lr, lr_decay, 1) == lr


@given(case=dense_case(), lr=lrs, lr_decay=decays, eps=positive_eps, n=st.integers(1, 8))
def test_lr_decay_schedule_across_steps_R3(case, lr, lr_decay, eps, n):
    """n steps with lr_decay equal n undecayed steps with lr_t = lr / (1 + (t-1) lr_decay) (R3)."""
    p0, g, s0, _ = case
    p, s, t = p0, s0, 0
    q, r = p0, s0
    for k in range(1, n + 1):
        p, s, t = adagrad_step(p, g, s, t, lr=lr, lr_decay=lr_decay, eps=eps)
        lr_k = float(Fraction(lr) / (1 + (k - 1) * Fraction(lr_decay)))
        q, r, _ = adagrad_step(q, g, r, 0, lr=lr_k, eps=eps)
        assert t == k
    np.testing.assert_array_equal(s, r)
    # The two runs differ only by the rounding of each lr_t (< 2 ulps of it).
    np.testing.assert_allclose(p, q, rtol=1e-13, atol=1e-13 * lr * n)


# -- R2, D2: the step count is exact ------------------------------------------------------------
@pytest.mark.spec("R2", "D2")
def test_step_count_exact_past_float32_range_R2_D2():
    """t is an exact int past 2**24, where torch's float32 step freezes (D2); lr_decay keeps moving."""
    big = 2**24
    p, g, s = np.zeros(1), np.ones(1), np.zeros(1)
    p1, _, t1 = adagrad_step(p, g, s, big - 1, lr=1.0, lr_decay=1.0, eps=0.0)
    p2, _, t2 = adagrad_step(p, g, s, big, lr=1.0, lr_decay=1.0, eps=0.0)
    assert (t1, t2) == (big, big + 1)
    assert type(t1) is int and type(t2) is int
    # updates are 1/big and 1/(big + 1): their ratio is (big + 1)/big, not 1
    assert math.isclose(p1[0] / p2[0], (big + 1) / big, rel_tol=1e-15)


# -- R25: non-finite values ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "g, sum_is",
    [(math.nan, "nan"), (math.inf, "inf"), (-math.inf, "inf")],
    ids=["nan", "+inf", "-inf"],
)
def test_non_finite_gradient_propagates_R25(g, sum_is):
    """NaN gradient: s and theta NaN; +-inf: s = +inf, theta NaN (inf/inf); and for good (R25)."""
    p, s, _ = adagrad_step(np.array([1.0, 1.0]), np.array([g, 1.0]), np.zeros(2), 0, lr=0.1)
    assert np.isnan(s[0]) if sum_is == "nan" else s[0] == math.inf
    assert np.isnan(p[0])
    assert np.isfinite(p[1]) and np.isfinite(s[1])  # the other element is unaffected
    p, s, _ = adagrad_step(p, np.array([1.0, 1.0]), s, 1, lr=0.1)
    assert np.isnan(p[0])


# -- R26: inputs are read-only ------------------------------------------------------------------
@given(case=dense_case(), weight_decay=st.floats(1e-4, 1.0), maximize=st.booleans())
def test_step_does_not_modify_its_inputs_R26(case, weight_decay, maximize):
    """The gradient (and param and sum: the functions are pure) are unchanged by a step (R26)."""
    p, g, s, t = case
    copies = [a.copy() for a in (p, g, s)]
    out = adagrad_step(p, g, s, t, lr=0.1, weight_decay=weight_decay, maximize=maximize)
    for before, after in zip(copies, (p, g, s)):
        np.testing.assert_array_equal(before, after)
    assert not any(np.shares_memory(o, i) for o in out[:2] for i in (p, g, s))


def test_sparse_step_does_not_modify_its_inputs_R26():
    grad = SparseGrad(np.array([[0, 2, 0]]), np.array([1.0, -2.0, 3.0]), (4,))
    p, s = np.arange(4.0), np.ones(4)
    values = grad.values.copy()
    sparse_adagrad_step(p, grad, s, 0, lr=0.1, maximize=True)
    np.testing.assert_array_equal(p, np.arange(4.0))
    np.testing.assert_array_equal(s, np.ones(4))
    np.testing.assert_array_equal(grad.values, values)


# -- R29: memory layout -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "layout",
    [
        lambda a: a.T,  # transposed
        lambda a: np.repeat(a, 2, axis=1)[:, ::2],  # strided slice
        lambda a: np.asfortranarray(a),  # column-major
        lambda a: np.broadcast_to(a[:1], a.shape),  # expanded: every row is row 0 (stride 0)
    ],
    ids=["transposed", "sliced", "fortran", "expanded"],
)
@given(data=st.data(), lr=lrs, weight_decay=st.one_of(st.just(0.0), st.floats(1e-4, 1.0)), maximize=st.booleans())
def test_any_strides_give_the_contiguous_values_R29(layout, data, lr, weight_decay, maximize):
    """Non-contiguous inputs (and gradients) give exactly the values of contiguous copies (R29)."""
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=4))
    p, g = data.draw(finite_arrays(shape)), data.draw(finite_arrays(shape))
    s = np.abs(data.draw(finite_arrays(shape)))
    odd = [layout(a) for a in (p, g, s)]
    hyper = dict(lr=lr, weight_decay=weight_decay, maximize=maximize)
    want = adagrad_step(*(np.ascontiguousarray(a) for a in odd), 3, **hyper)
    got = adagrad_step(*odd, 3, **hyper)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
