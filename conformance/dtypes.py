"""Floating-point facts per dtype: unit roundoff, underflow, ulp, and rounding of inputs.

The suite names dtypes by string (``"float64"``, ``"float32"``, ``"float16"``, ``"bfloat16"``)
so that the error model and the reports need no torch; :func:`torch_dtype` maps a name to torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DTYPES", "FloatFormat", "FORMATS", "torch_dtype", "round_to", "ulp"]


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format.

    Attributes:
        name: dtype name.
        precision: significand bits p, the implicit bit included.
        min_exponent: exponent of the smallest normal number (2**min_exponent).
        max_value: the largest finite value.
    """

    name: str
    precision: int
    min_exponent: int
    max_value: float

    @property
    def u(self) -> float:
        """Unit roundoff 2**-p: the largest relative error of one correctly rounded operation."""
        return 2.0 ** -self.precision

    @property
    def smallest_subnormal(self) -> float:
        return 2.0 ** (self.min_exponent - self.precision + 1)

    @property
    def underflow(self) -> float:
        """Largest absolute error of rounding a result into the subnormal range (half a subnormal)."""
        return self.smallest_subnormal / 2


FORMATS: dict[str, FloatFormat] = {
    "float64": FloatFormat("float64", 53, -1022, float(np.finfo(np.float64).max)),
    "float32": FloatFormat("float32", 24, -126, float(np.finfo(np.float32).max)),
    "float16": FloatFormat("float16", 11, -14, 65504.0),
    "bfloat16": FloatFormat("bfloat16", 8, -126, 3.3895313892515355e38),
}
DTYPES = tuple(FORMATS)


def torch_dtype(name: str):  # -> torch.dtype; torch imported lazily so the error model needs none
    """The torch dtype called ``name`` (``"complex128"`` and ``"complex64"`` too)."""
    import torch

    return getattr(torch, name)


def ulp(x: np.ndarray, fmt: FloatFormat) -> np.ndarray:
    """The spacing of ``fmt`` at |x| (for 0 and subnormals: the smallest subnormal); float64 array."""
    ax = np.abs(np.asarray(x, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.floor(np.log2(np.where(ax > 0, ax, 1.0)))
    exponent = np.maximum(exponent, fmt.min_exponent)
    spacing = np.exp2(exponent - (fmt.precision - 1))
    return np.where(np.isfinite(ax), spacing, np.inf)


def round_to(x: np.ndarray, name: str) -> np.ndarray:
    """Round float64 values to dtype ``name`` (via torch, round-to-nearest-even); returns float64."""
    import torch

    t = torch.as_tensor(np.asarray(x, dtype=np.float64))
    return t.to(torch_dtype(name)).to(torch.float64).numpy()
