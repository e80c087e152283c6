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

This module follows errors along a trajectory: one step's error (:func:`step_error`), the
tolerance for target versus oracle (:func:`step_bound`), and both carried from step to step
(:class:`ErrorTracker`). The terms of one step, operation by operation, are in
:mod:`.error_terms`; errors are carried times ``2**SCALE_EXPONENT`` (:mod:`.scaled_error`), so
that float64's half subnormal is a number, and only the returned bound is a plain float64.

Example:
    >>> import numpy as np
    >>> b = step_bound(np.array([1.0]), np.array([0.5]), np.array([0.0]), 1,
    ...                lr=0.1, lr_decay=0.0, weight_decay=0.0, eps=1e-10, dtype="float32")
    >>> bool(b.param[0] < 1e-6) and bool(b.sum[0] < 1e-6)
    True
"""

from __future__ import annotations

import numpy as np

from adagrad.conformance.engine.dtypes import FORMATS
from adagrad.conformance.engine.error_terms import (
    CLR_ROUNDINGS,
    SLACK_ULPS,
    SQRT_ROUNDINGS,
    broadcast_values,
    step_scaled,
)
from adagrad.conformance.engine.scaled_error import SCALE_EXPONENT, Bound, Scaled

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


def _carried(param, grad, state_sum, param_err: np.ndarray | float, sum_err: np.ndarray | float) -> Scaled:
    """Errors the inputs already carry, scaled, at the shape of the step's values."""
    _, shape = broadcast_values(param, grad, state_sum)
    return Scaled.of(param_err, sum_err, shape)


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
    hyper = {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay, "eps": eps, "maximize": maximize}
    carried = _carried(param, grad, state_sum, param_err, sum_err)
    return step_scaled(
        param, grad, state_sum, step, carried, dtype=dtype, lr_dtype=lr_dtype, grad_err=grad_err, **hyper
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
    target = step_scaled(
        param, grad, state_sum, step, _carried(param, grad, state_sum, param_err, sum_err), dtype=dtype, **hyper
    )
    oracle_hyper = {k: v for k, v in hyper.items() if k not in ("lr_dtype", "grad_err")}
    oracle_carried = _carried(param, grad, state_sum, oracle_param_err, oracle_sum_err)
    oracle = step_scaled(param, grad, state_sum, step, oracle_carried, dtype="float64", **oracle_hyper)
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
        self._target = Scaled.of(0.0, 0.0, tuple(shape))
        # The accumulator starts as tau converted to the dtype: one rounding (exact in float64),
        # unless the state was loaded from values already exact in the dtype (teacher forcing).
        if not (exact_start or dtype == "float64"):
            sigma = np.ldexp(1.0, self._target.exponent)
            tau_err = fmt.u * abs(initial_accumulator_value) * sigma + np.ldexp(
                1.0, fmt.underflow_exponent + self._target.exponent
            )
            self._target = Scaled(self._target.param, tau_err, self._target.exponent)
        self._oracle = Scaled.of(0.0, 0.0, tuple(shape))

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
        target = step_scaled(
            param, grad, state_sum, step, self._target, dtype=self.dtype, lr_dtype=lr_dtype, grad_err=grad_err, **hyper
        )
        oracle = step_scaled(param, grad, state_sum, step, self._oracle, dtype="float64", **hyper)
        if touched is not None:
            target, oracle = target.where(touched, self._target), oracle.where(touched, self._oracle)
        self._target, self._oracle = target, oracle
        return self.current()
