"""The error model: how far a correct finite-precision Adagrad may be from the exact recurrence.

``docs/error-model.md`` explains it; in short, this is a running (forward) error analysis of
spec R1. Every operation a correct implementation performs is allowed one rounding to the
target's dtype (relative error ``u = 2**-p``, plus half the smallest subnormal ``η`` of
underflow), the square root two (``sqrt`` need not be correctly rounded: within 1 ulp), and
every hyperparameter one rounding when it is converted to the dtype (the decayed lr three: it
may be computed in the dtype). The bound holds for every evaluation order and with or without
FMA (fewer roundings only make the error smaller). Propagation is first order; each
step's new error is multiplied by ``1 + 16 * u`` for the neglected second-order terms.

The bound is per element and in absolute terms; divided by the dtype's ulp at the expected
value it is the tolerance in ulps (what reports print). The oracle's own float64 rounding is
added with the same model, so a float64 target is compared honestly too.

Float64's ``η = 2**-1075`` is not a float64 number, so errors are computed times
``2**SCALE_EXPONENT`` (an exact power-of-two scaling; 1 where that would overflow) and only
the returned bound is a plain float64: below the normal range it is rounded down to a whole
number of smallest subnormals, which accepts exactly the same float64 differences as the
real-valued bound (every difference of two float64 numbers is such a multiple).

Example:
    >>> import numpy as np
    >>> b = step_bound(np.array([1.0]), np.array([0.5]), np.array([0.0]), 1,
    ...                lr=0.1, lr_decay=0.0, weight_decay=0.0, eps=1e-10, dtype="float32")
    >>> bool(b.param[0] < 1e-6) and bool(b.sum[0] < 1e-6)
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from adagrad.conformance.engine.dtypes import FORMATS, FloatFormat

__all__ = [
    "Bound",
    "CLR_ROUNDINGS",
    "ErrorTracker",
    "SCALE_EXPONENT",
    "SLACK_ULPS",
    "SQRT_ROUNDINGS",
    "step_bound",
    "step_error",
]

#: A square root within 1 ulp (not necessarily correctly rounded) counts as two roundings.
SQRT_ROUNDINGS = 2
#: The decayed lr takes three operations; an implementation may do them in the dtype itself.
CLR_ROUNDINGS = 3
#: Each step's new error is multiplied by 1 + SLACK_ULPS * u (neglected second-order terms).
SLACK_ULPS = 16
#: Errors are computed times 2**SCALE_EXPONENT, so that float64's half subnormal (2**-1075) and
#: the relative errors of values near the subnormal range are float64 numbers with full precision.
SCALE_EXPONENT = 64

_F64 = FORMATS["float64"]
_SMALLEST_NORMAL = 2.0**_F64.min_exponent


@dataclass(frozen=True)
class Bound:
    """Absolute error bounds, per element, for the parameter and the accumulator after a step."""

    param: np.ndarray
    sum: np.ndarray


@dataclass(frozen=True)
class _Scaled:
    """Error bounds times ``2**exponent``, element by element (exponent SCALE_EXPONENT, or 0
    for an element whose scaled error would overflow)."""

    param: np.ndarray
    sum: np.ndarray
    exponent: np.ndarray

    @staticmethod
    def of(param_err: np.ndarray | float, sum_err: np.ndarray | float, shape: tuple[int, ...]) -> _Scaled:
        """Plain errors (float64) in the scaled representation."""
        ep = np.broadcast_to(np.asarray(param_err, dtype=np.float64), shape)
        es = np.broadcast_to(np.asarray(sum_err, dtype=np.float64), shape)
        return _Scaled(ep, es, np.zeros(shape, dtype=np.int64)).rescaled(np.full(shape, SCALE_EXPONENT))

    def rescaled(self, exponent: np.ndarray) -> _Scaled:
        """The same errors at ``exponent`` where they stay finite there, else unscaled."""
        exponent = np.asarray(exponent, dtype=np.int64)
        if np.array_equal(exponent, self.exponent):
            return self
        with np.errstate(over="ignore"):
            p, s = np.ldexp(self.param, exponent - self.exponent), np.ldexp(self.sum, exponent - self.exponent)
        over = (np.isinf(p) & np.isfinite(self.param)) | (np.isinf(s) & np.isfinite(self.sum))
        if not over.any():
            return _Scaled(p, s, np.broadcast_to(exponent, p.shape).copy())
        return self.rescaled(np.where(over, 0, exponent))

    def __add__(self, other: _Scaled) -> _Scaled:
        e = np.minimum(self.exponent, other.exponent)
        a, b = self.rescaled(e), other.rescaled(e)  # lowering the exponent cannot overflow
        return _Scaled(a.param + b.param, a.sum + b.sum, e)

    def where(self, mask: np.ndarray, other: _Scaled) -> _Scaled:
        """Elements of self where ``mask``, else of ``other``."""
        return _Scaled(
            np.where(mask, self.param, other.param),
            np.where(mask, self.sum, other.sum),
            np.where(mask, self.exponent, other.exponent),
        )

    def bound(self) -> Bound:
        """The plain float64 bound; below the normal range, a whole number of smallest subnormals."""
        return Bound(_unscale(self.param, self.exponent), _unscale(self.sum, self.exponent))


def _unscale(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    # |a - b| for float64 a, b is a multiple of 2**-1074, so err <= B and err <= floor-to-grid(B)
    # accept the same errors; rounding to nearest instead could round half a subnormal away.
    plain = np.ldexp(x, -exponent)
    with np.errstate(over="ignore", invalid="ignore"):
        grid = np.ldexp(np.floor(np.ldexp(x, -_F64.subnormal_exponent - exponent)), _F64.subnormal_exponent)
    return np.where(plain < _SMALLEST_NORMAL, grid, plain)


def _step_scaled(
    p: np.ndarray,
    g: np.ndarray,
    s: np.ndarray,
    step: int,
    carried: _Scaled,
    grad_err: np.ndarray,
    *,
    lr: float,
    lr_decay: float,
    weight_decay: float,
    eps: float,
    maximize: bool,
    fmt: FloatFormat,
    lr_fmt: FloatFormat,
) -> _Scaled:
    """One step's error bound, scaled; an element whose scaled bound overflows is redone unscaled."""
    while True:
        e = carried.exponent
        with np.errstate(over="ignore"):
            ge = np.ldexp(grad_err, e)
        over = np.isinf(ge) & np.isfinite(grad_err)
        if not over.any():
            # One exponent for all elements (the usual case) is a Python int: cheaper arithmetic.
            uniform = int(e.flat[0]) if e.size and (e == e.flat[0]).all() else e
            param, sum_ = _step_core(
                p,
                g,
                s,
                step,
                carried,
                ge,
                uniform,
                lr=lr,
                lr_decay=lr_decay,
                weight_decay=weight_decay,
                eps=eps,
                maximize=maximize,
                fmt=fmt,
                lr_fmt=lr_fmt,
            )
            over = (np.isinf(param) | np.isinf(sum_)) & (e > 0)
            if not over.any():
                return _Scaled(param, sum_, e)
            # Redo unscaled only what overflowed from finite inputs (an infinite bound stays one).
            over &= np.isfinite(p) & np.isfinite(g) & np.isfinite(s) & np.isfinite(ge)
            over &= np.isfinite(carried.param) & np.isfinite(carried.sum)
            if not over.any():
                return _Scaled(param, sum_, e)
        carried = carried.rescaled(np.where(over, 0, e))


def _pow2(k: int | np.ndarray) -> float | np.ndarray:
    return math.ldexp(1.0, k) if isinstance(k, int) else np.ldexp(1.0, k)


def _step_core(p, g, s, step, carried, ge, e, *, lr, lr_decay, weight_decay, eps, maximize, fmt, lr_fmt):
    """The running error analysis of one step (docs/error-model.md, "The bound"), errors times 2**e."""
    sigma = _pow2(e)
    root_sigma = _pow2(e // 2)  # sqrt(E) * sigma == sqrt(E * sigma) * sqrt(sigma); e is even
    # Half the smallest subnormal, scaled (unscaled, float64's rounds up to 2**-1074).
    lowest = _F64.subnormal_exponent
    etas = {
        f.name: _pow2(
            max(f.underflow_exponent + e, lowest)
            if isinstance(e, int)
            else np.maximum(f.underflow_exponent + e, lowest)
        )
        for f in {fmt, lr_fmt}
    }

    def eta(f: FloatFormat) -> float | np.ndarray:
        return etas[f.name]

    def rounding(x: np.ndarray | float, f: FloatFormat, k: float = 1.0) -> np.ndarray:
        """Error of rounding a result of magnitude |x| to ``f`` (k roundings), scaled."""
        return (k * f.u) * sigma * np.abs(x) + etas[f.name]

    ep, es = carried.param, carried.sum
    t = step + 1
    clr = lr / (1.0 + (t - 1) * lr_decay)
    e_clr = rounding(clr, lr_fmt, CLR_ROUNDINGS)
    if maximize:
        g = -g
    with np.errstate(all="ignore"):
        e_g = ge
        if weight_decay != 0:
            e_wd = abs(weight_decay) * fmt.u * sigma + eta(fmt)
            wp = weight_decay * p
            e_wp = abs(weight_decay) * ep + np.abs(p) * e_wd + rounding(wp, fmt)
            g = g + wp
            e_g = e_g + e_wp + rounding(g, fmt)
        gg = g * g
        e_gg = 2 * np.abs(g) * e_g + rounding(gg, fmt)
        s_new = s + gg
        e_s = es + e_gg + rounding(s_new, fmt)
        r = np.sqrt(s_new)
        # |sqrt(s~) - sqrt(s)| <= min(sqrt(e_s), e_s / sqrt(s)). At s' = 0 (so g = 0) the term is
        # 0 on purpose: a computed root is >= 0 and only enlarges the denominator of a zero update.
        e_r = np.minimum(np.sqrt(e_s) * root_sigma, e_s / np.where(r > 0, r, np.inf)) + rounding(r, fmt, SQRT_ROUNDINGS)
        d = r + eps
        e_d = e_r + (eps * fmt.u * sigma + eta(fmt)) + rounding(d, fmt)
        q = g / d
        # |g~/d~ - g/d| <= (e_g + |q| e_d) / (d - e_d) holds whenever e_d < d; beyond, no bound.
        e_q = np.where(e_d < d * sigma, (e_g + np.abs(q) * e_d) / (d - e_d / sigma), np.inf) + rounding(q, fmt)
        upd = clr * q
        # γ̃·g/d in any order: the first operation's underflow η reaches the update times the
        # factor applied after it: γ̃ for γ̃·(g/d) (in e_q), 1/d for (γ̃·g)/d (torch's addcdiv),
        # |g| for (γ̃/d)·g. Every order is allowed, so each is counted.
        e_order = np.where(e_d < d * sigma, eta(fmt) * (1.0 / (d - e_d / sigma) + np.abs(g)), np.inf)
        e_upd = abs(clr) * e_q + np.abs(q) * e_clr + e_order + rounding(upd, fmt)
        p_new = p - upd
        e_p = ep + e_upd + rounding(p_new, fmt)
        # The slack covers this step's second-order terms; carried-in error is not inflated again,
        # or it would compound as (1 + 16u)**steps. An infinite bound stays infinite.
        slack = 1.0 + SLACK_ULPS * fmt.u
        param_bound = np.where(np.isinf(e_p), e_p, ep + (e_p - ep) * slack)
        sum_bound = np.where(np.isinf(e_s), e_s, es + (e_s - es) * slack)
    return param_bound, sum_bound


def _values(param, grad, state_sum):
    p, g, s = (np.asarray(a, dtype=np.float64) for a in (param, grad, state_sum))
    shape = np.broadcast_shapes(p.shape, g.shape, s.shape)
    return (np.broadcast_to(a, shape) for a in (p, g, s)), shape


def _lr_format(fmt: FloatFormat, lr_dtype: str | None) -> FloatFormat:
    """The format the decayed lr is computed in: a tensor lr's dtype where it is coarser."""
    return FORMATS[lr_dtype] if lr_dtype is not None and FORMATS[lr_dtype].u > fmt.u else fmt


def _error_scaled(
    param,
    grad,
    state_sum,
    step,
    carried: _Scaled,
    *,
    dtype: str,
    lr_dtype: str | None = None,
    grad_err: np.ndarray | float = 0.0,
    maximize: bool = False,
    **hyper: float,
) -> _Scaled:
    (p, g, s), shape = _values(param, grad, state_sum)
    fmt = FORMATS[dtype]
    ge = np.broadcast_to(np.asarray(grad_err, dtype=np.float64), shape)
    return _step_scaled(
        p, g, s, step, carried, ge, maximize=maximize, fmt=fmt, lr_fmt=_lr_format(fmt, lr_dtype), **hyper
    )


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
    _, shape = _values(param, grad, state_sum)
    return _error_scaled(
        param,
        grad,
        state_sum,
        step,
        _Scaled.of(param_err, sum_err, shape),
        dtype=dtype,
        lr_dtype=lr_dtype,
        grad_err=grad_err,
        maximize=maximize,
        lr=lr,
        lr_decay=lr_decay,
        weight_decay=weight_decay,
        eps=eps,
    ).bound()


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
    ``oracle_*``) to follow a free-running trajectory (:class:`ErrorTracker` does this without
    rounding the carried errors to float64 in between).
    """
    _, shape = _values(param, grad, state_sum)
    target = _error_scaled(param, grad, state_sum, step, _Scaled.of(param_err, sum_err, shape), dtype=dtype, **hyper)
    oracle_hyper = {k: v for k, v in hyper.items() if k not in ("lr_dtype", "grad_err")}
    oracle = _error_scaled(
        param,
        grad,
        state_sum,
        step,
        _Scaled.of(oracle_param_err, oracle_sum_err, shape),
        dtype="float64",
        **oracle_hyper,
    )
    return (target + oracle).bound()


class ErrorTracker:
    """Follows one parameter's error bound along a free-running trajectory.

    Call :meth:`step` with the oracle's exact values *before* each step; it returns the
    tolerance after the step and carries the target's and the oracle's errors separately (and
    scaled, so that no half subnormal of float64 is rounded away between steps).
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
        fmt = FORMATS[dtype]
        self._target = _Scaled.of(0.0, 0.0, tuple(shape))
        # The accumulator starts as tau converted to the dtype: one rounding (exact in float64),
        # unless the state was loaded from values already exact in the dtype (teacher forcing).
        if not (exact_start or dtype == "float64"):
            sigma = np.ldexp(1.0, self._target.exponent)
            tau_err = fmt.u * abs(initial_accumulator_value) * sigma + np.ldexp(
                1.0, fmt.underflow_exponent + self._target.exponent
            )
            self._target = _Scaled(self._target.param, tau_err, self._target.exponent)
        self._oracle = _Scaled.of(0.0, 0.0, tuple(shape))

    def current(self) -> Bound:
        """The tolerance before any (further) step: the carried errors."""
        return (self._target + self._oracle).bound()

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
        """Advance both errors by one step from the oracle's values before it; the new tolerance.

        ``hyper`` holds the group's ``lr``, ``lr_decay``, ``weight_decay``, ``eps``, ``maximize``,
        and optionally ``lr_dtype`` (a tensor lr's dtype) and ``grad_err`` (the gradient's own
        error), which apply to the target only.
        """
        lr_dtype = hyper.pop("lr_dtype", None)
        grad_err = hyper.pop("grad_err", 0.0)
        target = _error_scaled(
            param, grad, state_sum, step, self._target, dtype=self.dtype, lr_dtype=lr_dtype, grad_err=grad_err, **hyper
        )
        oracle = _error_scaled(param, grad, state_sum, step, self._oracle, dtype="float64", **hyper)
        if touched is not None:
            target, oracle = target.where(touched, self._target), oracle.where(touched, self._oracle)
        self._target, self._oracle = target, oracle
        return self.current()
