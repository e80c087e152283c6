"""The suite's one dtype table: floating-point facts per dtype, ulps and rounding of inputs.

The suite names dtypes by string (``"float64"``, ``"float32"``, ``"float16"``, ``"bfloat16"``,
``"complex128"``, ``"complex64"``) so that the error model, the fixtures and the reports need no
torch. :data:`FORMATS` holds every real format's facts; a complex dtype is a pair of its
component dtype (:data:`COMPLEX_COMPONENT`, :func:`real_dtype`). NumPy has no bfloat16:
``ml_dtypes.bfloat16`` stands in for it (:func:`numpy_dtype`).

Conventions, pinned against ``np.spacing`` (and ml_dtypes for bfloat16) by
``tests/conformance/test_dtypes.py``:

* :func:`ulp` is the spacing of the dtype's values in the binade of ``|x|``:
  ``2**(max(e, emin) - p + 1)`` for ``2**e <= |x| < 2**(e+1)``. For every finite value of the
  dtype below the largest it equals ``np.spacing(|x|)`` in that dtype; at the largest finite
  value, where ``np.spacing`` overflows to inf, it is the spacing of the top binade. ``ulp(±0)``
  is the smallest subnormal (as ``np.spacing(0)``), ``ulp(±inf)`` is inf, ``ulp(nan)`` is nan.
* :func:`ulp_distance` counts the steps between two values of the dtype; ``-0`` and ``+0`` are
  the same point (distance 0, as ``|a - b| = 0``), two NaNs are 0 apart, a NaN and a number
  infinitely far.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ml_dtypes
import numpy as np

__all__ = [
    "COMPLEX_COMPONENT",
    "DTYPES",
    "FORMATS",
    "FloatFormat",
    "format_of",
    "numpy_dtype",
    "real_dtype",
    "round_to",
    "torch_dtype",
    "ulp",
    "ulp_distance",
]


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format: one row of the dtype table.

    Attributes:
        name: dtype name (also the torch dtype's attribute name, ``torch.<name>``).
        precision: significand bits p, the implicit bit included.
        min_exponent: exponent of the smallest normal number (2**min_exponent).
        max_value: the largest finite value.
        numpy: the NumPy dtype holding its values (``ml_dtypes.bfloat16`` for bfloat16).
    """

    name: str
    precision: int
    min_exponent: int
    max_value: float
    numpy: np.dtype

    @property
    def u(self) -> float:
        """Unit roundoff 2**-p: the largest relative error of one correctly rounded operation."""
        return 2.0**-self.precision

    @property
    def smallest_subnormal(self) -> float:
        """2**(emin - p + 1), the spacing of the subnormal range (exact in float64 for every format)."""
        return 2.0**self.subnormal_exponent

    @property
    def subnormal_exponent(self) -> int:
        """Exponent of the smallest subnormal: emin - p + 1."""
        return self.min_exponent - self.precision + 1

    @property
    def underflow_exponent(self) -> int:
        """Exponent of half the smallest subnormal, the largest error of rounding into the subnormal range."""
        return self.subnormal_exponent - 1

    @property
    def underflow(self) -> float:
        """Half the smallest subnormal as a float64, rounded *up* so that it stays a bound.

        It is exact for float32, float16 and bfloat16. For float64 it is 2**-1075, which is not
        a float64: this property gives the smallest subnormal 2**-1074 instead. The error model
        does not use it for that reason: it counts half subnormals exactly in a scaled unit
        (``error_model``, ``docs/error-model.md``).
        """
        return float(np.ldexp(1.0, self.underflow_exponent)) or self.smallest_subnormal

    @property
    def torch_name(self) -> str:
        """The torch dtype's name (``torch.<torch_name>``)."""
        return self.name


def _format(name: str, dtype: Any) -> FloatFormat:
    info = ml_dtypes.finfo(dtype) if dtype is ml_dtypes.bfloat16 else np.finfo(dtype)
    # finfo.nmant excludes the implicit bit; minexp is the smallest normal's exponent.
    return FloatFormat(name, int(info.nmant) + 1, int(info.minexp), float(info.max), np.dtype(dtype))


#: Every real format, by name.
FORMATS: dict[str, FloatFormat] = {
    "float64": _format("float64", np.float64),
    "float32": _format("float32", np.float32),
    "float16": _format("float16", np.float16),
    "bfloat16": _format("bfloat16", ml_dtypes.bfloat16),
}
#: The real dtype names, widest first.
DTYPES = tuple(FORMATS)
#: The component dtype of each complex dtype (a complex value is a pair of them).
COMPLEX_COMPONENT: dict[str, str] = {"complex128": "float64", "complex64": "float32"}
_NUMPY_COMPLEX = {"complex128": np.dtype(np.complex128), "complex64": np.dtype(np.complex64)}
_ALL = (*DTYPES, *COMPLEX_COMPONENT)


def _check(name: str) -> str:
    if not isinstance(name, str) or name not in _ALL:
        raise ValueError(f"unknown dtype {name!r}; expected one of {', '.join(_ALL)}")
    return name


def real_dtype(name: str) -> str:
    """The real dtype of ``name``: the component dtype of a complex one, else ``name`` itself.

    Raises:
        ValueError: ``name`` is not a dtype of the table.
    """
    return COMPLEX_COMPONENT.get(_check(name), name)


def format_of(name: str) -> FloatFormat:
    """The :class:`FloatFormat` of ``name`` (a complex dtype's: its component's).

    Raises:
        ValueError: ``name`` is not a dtype of the table.
    """
    return FORMATS[real_dtype(name)]


def numpy_dtype(name: str) -> np.dtype:
    """The NumPy dtype holding values of ``name`` (bfloat16: ``ml_dtypes.bfloat16``).

    Raises:
        ValueError: ``name`` is not a dtype of the table.
    """
    if _check(name) in _NUMPY_COMPLEX:
        return _NUMPY_COMPLEX[name]
    return FORMATS[name].numpy


def torch_dtype(name: str):  # -> torch.dtype; torch imported lazily so the error model needs none
    """The torch dtype called ``name`` (``"complex128"`` and ``"complex64"`` too).

    Raises:
        ValueError: ``name`` is not a dtype of the table.
    """
    import torch

    return getattr(torch, _check(name))


def round_to(x: Any, name: str) -> np.ndarray:
    """Round values to dtype ``name`` as torch's conversion does; float64 (complex128) result.

    Round to nearest, ties to even; values beyond the largest finite value become ±inf, NaN
    stays NaN. float16 and bfloat16 go through float32 first, as torch converts a float64 tensor
    (a double rounding, which can differ from rounding once in a tie). A complex dtype rounds
    each part to its component dtype. No torch needed: NumPy and ml_dtypes do the rounding.

    Raises:
        ValueError: ``name`` is not a dtype of the table.
    """
    arr = np.asarray(x)
    if _check(name) in COMPLEX_COMPONENT:
        c = arr.astype(np.complex128)
        return round_to(c.real, COMPLEX_COMPONENT[name]) + 1j * round_to(c.imag, COMPLEX_COMPONENT[name])
    wide = arr.astype(np.float64)
    with np.errstate(over="ignore"):
        if name == "float64":
            return wide.copy()
        narrow = wide.astype(np.float32)
        if name != "float32":
            narrow = narrow.astype(FORMATS[name].numpy)
    return narrow.astype(np.float64)


def ulp(x: Any, fmt: FloatFormat | str) -> np.ndarray:
    """The spacing of ``fmt``'s values at ``|x|``, as a float64 array (see the module's conventions).

    ``x`` need not be representable in ``fmt`` (an oracle value, say): the spacing is that of the
    binade of ``|x|``, so a value just below a power of two gets the smaller spacing.
    """
    f = FORMATS[fmt] if isinstance(fmt, str) else fmt
    ax = np.abs(np.asarray(x, dtype=np.float64))
    _, e = np.frexp(ax)  # |x| = m * 2**e with m in [0.5, 1): exact, unlike log2
    binade = np.where(ax > 0, np.maximum(e - 1, f.min_exponent), f.min_exponent)
    spacing = np.ldexp(1.0, binade - (f.precision - 1))
    return np.where(np.isfinite(ax), spacing, ax)  # inf -> inf, nan -> nan


def _ordinal(values: np.ndarray) -> np.ndarray:
    """Integers in the order of the values, consecutive for neighbours; -0 and +0 both 0."""
    width = values.dtype.itemsize * 8
    bits = values.view(f"u{values.dtype.itemsize}").astype(np.uint64)
    magnitude = (bits & np.uint64((1 << (width - 1)) - 1)).astype(np.int64)
    return np.where(bits >> np.uint64(width - 1) == 1, -magnitude, magnitude)


def ulp_distance(a: Any, b: Any, name: str) -> np.ndarray:
    """How many steps of dtype ``name`` lie between ``a`` and ``b``, element by element (float64).

    Both must hold values of the dtype exactly (any NumPy dtype that holds them: float64 arrays
    of float32 values, say); a complex dtype gives the larger distance of the two parts. For
    neighbours ``x < y`` the distance is 1 and ``y - x == np.spacing(x)``.

    Raises:
        ValueError: unknown dtype, shapes that do not broadcast, or a value not in the dtype.
    """
    if _check(name) in COMPLEX_COMPONENT:
        ca, cb = np.asarray(a).astype(np.complex128), np.asarray(b).astype(np.complex128)
        part = COMPLEX_COMPONENT[name]
        return np.maximum(ulp_distance(ca.real, cb.real, part), ulp_distance(ca.imag, cb.imag, part))
    wa, wb = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    held = []
    for w in (wa, wb):
        h = w.astype(FORMATS[name].numpy)
        if not np.array_equal(h.astype(np.float64), w, equal_nan=True):
            raise ValueError(f"ulp_distance: values are not exactly representable in {name}")
        held.append(np.ascontiguousarray(h))
    oa, ob = _ordinal(held[0]), _ordinal(held[1])
    # Same sign: the int64 difference cannot overflow; opposite signs: the sum of magnitudes.
    same = (oa >= 0) == (ob >= 0)
    dist = np.where(
        same,
        np.abs(np.where(same, oa - ob, 0)).astype(np.float64),
        np.abs(oa).astype(np.float64) + np.abs(ob).astype(np.float64),
    )
    nan_a, nan_b = np.isnan(wa), np.isnan(wb)
    return np.where(nan_a & nan_b, 0.0, np.where(nan_a | nan_b, np.inf, dist))
