"""Error bounds held times ``2**SCALE_EXPONENT``, and the plain float64 bound they give.

Float64's ``η = 2**-1075`` is not a float64 number, so the error model (``error_model``,
docs/error-model.md, "Arithmetic of the bound itself") computes every error times
``2**SCALE_EXPONENT`` (an exact power-of-two scaling; 1 where that would overflow) and only the
returned bound is a plain float64: below the normal range it is rounded down to a whole number
of smallest subnormals, which accepts exactly the same float64 differences as the real-valued
bound (every difference of two float64 numbers is such a multiple).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from adagrad.conformance.engine.dtypes import FORMATS

__all__ = ["SCALE_EXPONENT", "Bound", "Scaled"]

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
class Scaled:
    """Error bounds times ``2**exponent``, element by element (exponent SCALE_EXPONENT, or 0
    for an element whose scaled error would overflow)."""

    param: np.ndarray
    sum: np.ndarray
    exponent: np.ndarray

    @staticmethod
    def of(param_err: np.ndarray | float, sum_err: np.ndarray | float, shape: tuple[int, ...]) -> Scaled:
        """Plain errors (float64) in the scaled representation."""
        ep = np.broadcast_to(np.asarray(param_err, dtype=np.float64), shape)
        es = np.broadcast_to(np.asarray(sum_err, dtype=np.float64), shape)
        return Scaled(ep, es, np.zeros(shape, dtype=np.int64)).rescaled(np.full(shape, SCALE_EXPONENT))

    def rescaled(self, exponent: np.ndarray) -> Scaled:
        """The same errors at ``exponent`` where they stay finite there, else unscaled."""
        exponent = np.asarray(exponent, dtype=np.int64)
        if np.array_equal(exponent, self.exponent):
            return self
        with np.errstate(over="ignore"):
            p, s = np.ldexp(self.param, exponent - self.exponent), np.ldexp(self.sum, exponent - self.exponent)
        over = (np.isinf(p) & np.isfinite(self.param)) | (np.isinf(s) & np.isfinite(self.sum))
        if not over.any():
            return Scaled(p, s, np.broadcast_to(exponent, p.shape).copy())
        return self.rescaled(np.where(over, 0, exponent))

    def __add__(self, other: Scaled) -> Scaled:
        e = np.minimum(self.exponent, other.exponent)
        a, b = self.rescaled(e), other.rescaled(e)  # lowering the exponent cannot overflow
        return Scaled(a.param + b.param, a.sum + b.sum, e)

    def where(self, mask: np.ndarray, other: Scaled) -> Scaled:
        """Elements of self where ``mask``, else of ``other``."""
        return Scaled(
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
