"""The error model: how far a correct finite-precision Adagrad may be from the exact recurrence.

``docs/error-model.md`` explains it; in short, this is a running (forward) error analysis of
spec R1. Every operation a correct implementation performs is allowed one rounding to the
target's dtype (relative error ``u = 2**-p``, plus half a subnormal of underflow), the square
root two (``sqrt`` need not be correctly rounded: within 1 ulp), and every hyperparameter one
rounding when it is converted to the dtype (the decayed lr three: it may be computed in the
dtype). The bound does not depend on the evaluation
order or on whether FMA is used (fewer roundings only make the error smaller). Propagation is
first order; each step's new error is multiplied by ``1 + 16 * u`` for the neglected
second-order terms.

The bound is per element and in absolute terms; divided by the dtype's ulp at the expected
value it is the tolerance in ulps (what reports print). The oracle's own float64 rounding is
added with the same model, so a float64 target is compared honestly too.

Example:
    >>> import numpy as np
    >>> b = step_bound(np.array([1.0]), np.array([0.5]), np.array([0.0]), 1,
    ...                lr=0.1, lr_decay=0.0, weight_decay=0.0, eps=1e-10, dtype="float32")
    >>> bool(b.param[0] < 1e-6) and bool(b.sum[0] < 1e-6)
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dtypes import FORMATS, FloatFormat

__all__ = ["Bound", "CLR_ROUNDINGS", "ErrorTracker", "SQRT_ROUNDINGS", "step_bound", "step_error"]

#: A square root within 1 ulp (not necessarily correctly rounded) counts as two roundings.
SQRT_ROUNDINGS = 2
#: The decayed lr takes three operations; an implementation may do them in the dtype itself.
CLR_ROUNDINGS = 3


@dataclass(frozen=True)
class Bound:
    """Absolute error bounds, per element, for the parameter and the accumulator after a step."""

    param: np.ndarray
    sum: np.ndarray


def _round(x: np.ndarray, fmt: FloatFormat, k: float = 1.0) -> np.ndarray:
    """Error of rounding a result of magnitude |x| (k roundings)."""
    return k * fmt.u * np.abs(x) + fmt.underflow


def step_error(
    param: np.ndarray,
    grad: np.ndarray,
    state_sum: np.ndarray,
    step: int,
    *,
    lr: float,
    lr_decay: float,
    weight_decay: float,
    eps: float,
    maximize: bool = False,
    dtype: str,
    param_err: np.ndarray | float = 0.0,
    sum_err: np.ndarray | float = 0.0,
    lr_dtype: str | None = None,
    grad_err: np.ndarray | float = 0.0,
) -> Bound:
    """Error of one step computed in ``dtype``, from inputs already off by ``param_err``/``sum_err``.

    ``param``, ``grad``, ``state_sum`` are the exact (oracle) values, float64 real arrays
    (complex values as real pairs); ``step`` the step count before this step. ``lr_dtype`` is
    the dtype of a tensor lr: the decayed lr is then computed in that dtype. ``grad_err`` is an
    error the gradient already carries (a sparse gradient's duplicates summed in the dtype).
    """
    fmt = FORMATS[dtype]
    lr_fmt = FORMATS[lr_dtype] if lr_dtype is not None and FORMATS[lr_dtype].u > fmt.u else fmt
    p, g, s = (np.asarray(a, dtype=np.float64) for a in (param, grad, state_sum))
    ep, es = np.asarray(param_err, dtype=np.float64), np.asarray(sum_err, dtype=np.float64)
    t = step + 1
    clr = lr / (1.0 + (t - 1) * lr_decay)
    e_clr = _round(clr, lr_fmt, CLR_ROUNDINGS)
    if maximize:
        g = -g
    with np.errstate(all="ignore"):
        e_g = np.broadcast_to(np.asarray(grad_err, dtype=np.float64), g.shape).copy()
        if weight_decay != 0:
            e_wd = abs(weight_decay) * fmt.u + fmt.underflow
            wp = weight_decay * p
            e_wp = abs(weight_decay) * ep + np.abs(p) * e_wd + _round(wp, fmt)
            g = g + wp
            e_g = e_g + e_wp + _round(g, fmt)
        gg = g * g
        e_gg = 2 * np.abs(g) * e_g + _round(gg, fmt)
        s_new = s + gg
        e_s = es + e_gg + _round(s_new, fmt)
        r = np.sqrt(s_new)
        e_r = np.minimum(np.sqrt(e_s), e_s / np.where(r > 0, r, np.inf)) + _round(r, fmt, SQRT_ROUNDINGS)
        d = r + eps
        e_d = e_r + (eps * fmt.u + fmt.underflow) + _round(d, fmt)
        q = g / d
        # |g~/d~ - g/d| <= (e_g + |q| e_d) / (d - e_d) holds whenever e_d < d; beyond, no bound.
        e_q = np.where(e_d < d, (e_g + np.abs(q) * e_d) / (d - e_d), np.inf) + _round(q, fmt)
        upd = clr * q
        e_upd = abs(clr) * e_q + np.abs(q) * e_clr + _round(upd, fmt)
        p_new = p - upd
        e_p = ep + e_upd + _round(p_new, fmt)
    # The slack covers this step's second-order terms; carried-in error is not inflated again,
    # or it would compound as (1 + 16u)**steps.
    slack = 1.0 + 16 * fmt.u
    with np.errstate(invalid="ignore"):  # an infinite bound stays infinite (inf - inf is not)
        param_bound = np.where(np.isinf(e_p), e_p, ep + (e_p - ep) * slack)
        sum_bound = np.where(np.isinf(e_s), e_s, es + (e_s - es) * slack)
    return Bound(param=param_bound, sum=sum_bound)


def step_bound(
    param: np.ndarray,
    grad: np.ndarray,
    state_sum: np.ndarray,
    step: int,
    *,
    dtype: str,
    param_err: np.ndarray | float = 0.0,
    sum_err: np.ndarray | float = 0.0,
    oracle_param_err: np.ndarray | float = 0.0,
    oracle_sum_err: np.ndarray | float = 0.0,
    **hyper: float,
) -> Bound:
    """Tolerance for |target - oracle| after one step: the target's error plus the oracle's.

    The oracle computes in float64 with the same model, so its own error is added; for a
    float32 or lower target it is negligible, for a float64 target it is of the same size.
    Pass the previous step's returned bounds as ``param_err``/``sum_err`` (and the oracle's as
    ``oracle_*``) to follow a free-running trajectory.
    """
    target = step_error(param, grad, state_sum, step, dtype=dtype, param_err=param_err, sum_err=sum_err, **hyper)
    oracle = step_error(
        param, grad, state_sum, step, dtype="float64", param_err=oracle_param_err, sum_err=oracle_sum_err, **hyper
    )
    return Bound(param=target.param + oracle.param, sum=target.sum + oracle.sum)


class ErrorTracker:
    """Follows one parameter's error bound along a free-running trajectory.

    Call :meth:`step` with the oracle's exact values *before* each step; it returns the
    tolerance after the step and carries the target's and the oracle's errors separately.
    The accumulator's initial value ``initial_accumulator_value`` is rounded once to the dtype;
    ``exact_start=True`` says the starting state is exact in the dtype (loaded, not computed).
    ``touched`` (a boolean mask over the parameter's elements) limits a step to some elements,
    as a sparse gradient does; the others keep their error.

    Example:
        >>> import numpy as np
        >>> tr = ErrorTracker("float32", shape=(1,))
        >>> b1 = tr.step(np.array([1.0]), np.array([0.5]), np.array([0.0]), 0, lr=0.1,
        ...              lr_decay=0.0, weight_decay=0.0, eps=1e-10)
        >>> b2 = tr.step(np.array([0.9]), np.array([0.5]), np.array([0.25]), 1, lr=0.1,
        ...              lr_decay=0.0, weight_decay=0.0, eps=1e-10)
        >>> bool(b2.param[0] > b1.param[0])
        True
    """

    def __init__(
        self, dtype: str, shape: tuple[int, ...], initial_accumulator_value: float = 0.0, *, exact_start: bool = False
    ) -> None:
        self.dtype = dtype
        # The accumulator starts as tau converted to the dtype: one rounding (exact in float64),
        # unless the state was loaded from values already exact in the dtype (teacher forcing).
        fmt = FORMATS[dtype]
        exact = exact_start or dtype == "float64"
        tau_err = 0.0 if exact else fmt.u * abs(initial_accumulator_value) + fmt.underflow
        self._target = Bound(np.zeros(shape), np.full(shape, tau_err))
        self._oracle = Bound(np.zeros(shape), np.zeros(shape))

    def current(self) -> Bound:
        """The tolerance before any (further) step: the carried errors."""
        return Bound(self._target.param + self._oracle.param, self._target.sum + self._oracle.sum)

    def step(
        self,
        param: np.ndarray,
        grad: np.ndarray,
        state_sum: np.ndarray,
        step: int,
        *,
        touched: np.ndarray | None = None,
        **hyper: float,
    ) -> Bound:
        new = []
        lr_dtype = hyper.pop("lr_dtype", None)
        grad_err = hyper.pop("grad_err", 0.0)
        for dtype, prev, lr_dt, g_err in ((self.dtype, self._target, lr_dtype, grad_err), ("float64", self._oracle, None, 0.0)):
            b = step_error(
                param, grad, state_sum, step, dtype=dtype, param_err=prev.param, sum_err=prev.sum,
                lr_dtype=lr_dt, grad_err=g_err, **hyper,
            )
            if touched is not None:
                b = Bound(np.where(touched, b.param, prev.param), np.where(touched, b.sum, prev.sum))
            new.append(b)
        self._target, self._oracle = new
        return self.current()
