"""Values as a replay holds them: complex numbers as real pairs, rounding to a dtype, dtype order.

Shared by the replay (:mod:`.replay`, :mod:`.update`) and the check of a record (:mod:`.check`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adagrad.conformance.engine.dtypes import FORMATS, round_to

_PRECISION = {name: fmt.precision for name, fmt in FORMATS.items()}


def _real(dtype: str) -> str:
    return {"complex64": "float32", "complex128": "float64"}.get(dtype, dtype)


def _narrower(dtype: str | None, than: str) -> bool:
    return dtype is not None and _PRECISION[dtype] < _PRECISION[than]


def _pairs(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if np.iscomplexobj(x):
        return np.stack([x.real, x.imag], axis=-1).astype(np.float64)
    return x.astype(np.float64, copy=True)


def _unpairs(x: np.ndarray, is_complex: bool) -> np.ndarray:
    x = np.asarray(x)  # 0-d arithmetic gives scalars; keep arrays
    return np.asarray(x[..., 0] + 1j * x[..., 1]) if is_complex else np.array(x, dtype=np.float64)


def _round(x: Any, dtype: str) -> Any:
    """Round to ``dtype``: a Python or NumPy scalar stays a Python float, an array (0-d too) stays an array."""
    if not isinstance(x, np.ndarray):
        return float(round_to(np.array(float(x)), dtype))
    return round_to(np.asarray(x, dtype=np.float64), dtype)
