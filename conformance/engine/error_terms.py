"""The error bound of one Adagrad step, operation by operation (docs/error-model.md, "The bound").

Every operation a correct implementation performs is allowed one rounding to the target's dtype
(relative error ``u = 2**-p``, plus half the smallest subnormal ``η`` of underflow), the square
root two (``sqrt`` need not be correctly rounded: within 1 ulp), and every hyperparameter one
rounding when it is converted to the dtype (the decayed lr three: it may be computed in the
dtype). Propagation is first order; each step's new error is multiplied by ``1 + 16 * u`` for
the neglected second-order terms. Errors are carried scaled (:mod:`.scaled_error`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adagrad.conformance.engine.dtypes import FORMATS, FloatFormat
from adagrad.conformance.engine.scaled_error import Scaled

__all__ = ["CLR_ROUNDINGS", "SLACK_ULPS", "SQRT_ROUNDINGS", "broadcast_values", "step_scaled"]

#: A square root within 1 ulp (not necessarily correctly rounded) counts as two roundings.
SQRT_ROUNDINGS = 2
#: The decayed lr takes three operations; an implementation may do them in the dtype itself.
CLR_ROUNDINGS = 3
#: Each step's new error is multiplied by 1 + SLACK_ULPS * u (neglected second-order terms).
SLACK_ULPS = 16

_F64 = FORMATS["float64"]


def _step_scaled(
    p: np.ndarray,
    g: np.ndarray,
    s: np.ndarray,
    step: int,
    carried: Scaled,
    grad_err: np.ndarray,
    **terms: Any,
) -> Scaled:
    """One step's error bound, scaled; an element whose scaled bound overflows is redone unscaled.

    ``terms`` are :func:`_step_core`'s keywords: the hyperparameters, ``fmt`` and ``lr_fmt``.
    """
    while True:
        e = carried.exponent
        with np.errstate(over="ignore"):
            ge = np.ldexp(grad_err, e)
        over = np.isinf(ge) & np.isfinite(grad_err)
        if not over.any():
            # One exponent for all elements (the usual case) is a Python int: cheaper arithmetic.
            uniform = int(e.flat[0]) if e.size and (e == e.flat[0]).all() else e
            param, sum_ = _step_core(p, g, s, step, carried, ge, uniform, **terms)
            over = (np.isinf(param) | np.isinf(sum_)) & (e > 0)
            if not over.any():
                return Scaled(param, sum_, e)
            # Redo unscaled only what overflowed from finite inputs (an infinite bound stays one).
            over &= np.isfinite(p) & np.isfinite(g) & np.isfinite(s) & np.isfinite(ge)
            over &= np.isfinite(carried.param) & np.isfinite(carried.sum)
            if not over.any():
                return Scaled(param, sum_, e)
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
        # |g| for (γ̃/d)·g. Every order is allowed, so each is counted. An exact zero g (g = ±0
        # with no error: no weight decay term) has no underflow to reach it: every order gives an
        # exact 0 (d > 0 here), so a parameter with a zero gradient stays bit-for-bit unchanged.
        exact_zero = (g == 0) & (e_g == 0)
        e_order = np.where(
            e_d < d * sigma, np.where(exact_zero, 0.0, eta(fmt) * (1.0 / (d - e_d / sigma) + np.abs(g))), np.inf
        )
        e_upd = abs(clr) * e_q + np.abs(q) * e_clr + e_order + rounding(upd, fmt)
        p_new = p - upd
        e_p = ep + e_upd + rounding(p_new, fmt)
        # The slack covers this step's second-order terms; carried-in error is not inflated again,
        # or it would compound as (1 + 16u)**steps. An infinite bound stays infinite.
        slack = 1.0 + SLACK_ULPS * fmt.u
        param_bound = np.where(np.isinf(e_p), e_p, ep + (e_p - ep) * slack)
        sum_bound = np.where(np.isinf(e_s), e_s, es + (e_s - es) * slack)
    return param_bound, sum_bound


def broadcast_values(param, grad, state_sum):
    """The exact values as float64 arrays broadcast to one shape, and that shape."""
    p, g, s = (np.asarray(a, dtype=np.float64) for a in (param, grad, state_sum))
    shape = np.broadcast_shapes(p.shape, g.shape, s.shape)
    return (np.broadcast_to(a, shape) for a in (p, g, s)), shape


def _lr_format(fmt: FloatFormat, lr_dtype: str | None) -> FloatFormat:
    """The format the decayed lr is computed in: a tensor lr's dtype where it is coarser."""
    return FORMATS[lr_dtype] if lr_dtype is not None and FORMATS[lr_dtype].u > fmt.u else fmt


def step_scaled(
    param,
    grad,
    state_sum,
    step,
    carried: Scaled,
    *,
    dtype: str,
    lr_dtype: str | None = None,
    grad_err: np.ndarray | float = 0.0,
    maximize: bool = False,
    **hyper: float,
) -> Scaled:
    """The error after one step computed in ``dtype``, from the ``carried`` errors, scaled.

    ``hyper`` holds ``lr``, ``lr_decay``, ``weight_decay`` and ``eps``; the other keywords are
    those of :func:`adagrad.conformance.engine.error_model.step_error`.
    """
    (p, g, s), shape = broadcast_values(param, grad, state_sum)
    fmt = FORMATS[dtype]
    ge = np.broadcast_to(np.asarray(grad_err, dtype=np.float64), shape)
    return _step_scaled(
        p, g, s, step, carried, ge, maximize=maximize, fmt=fmt, lr_fmt=_lr_format(fmt, lr_dtype), **hyper
    )
