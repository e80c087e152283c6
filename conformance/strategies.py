"""Hypothesis strategies for the suite: hyperparameters, shapes, values per dtype, whole cases.

Every strategy takes keyword-only arguments and validates them. Values are drawn inside the
range where the error model of ``docs/error-model.md`` is valid for the dtype (see
:data:`GRADIENT_RANGE`): outside it a correct implementation could legitimately return
anything (an underflowed denominator), and the suite tests that regime separately.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from .dtypes import round_to
from .harness import Case

__all__ = [
    "EPS",
    "GRADIENT_RANGE",
    "arrays",
    "cases",
    "hyperparameters",
    "shapes",
]

#: eps grid: tiny (torch's default), large (dominates small accumulators), zero (allowed).
EPS = {"tiny": 1e-10, "large": 0.1, "zero": 0.0}

#: |gradient| range per dtype: squares stay normal and 50-step sums stay finite.
GRADIENT_RANGE = {
    "float64": (1e-3, 1e3),
    "float32": (1e-3, 1e3),
    "float16": (2.0**-6, 8.0),
    "bfloat16": (1e-3, 1e2),
}
_PARAM_RANGE = 4.0
_SUM_RANGE = {"float16": (2.0**-6, 1e3)}
_DEFAULT_SUM_RANGE = (1e-3, 1e4)


def _real(dtype: str) -> str:
    return {"complex64": "float32", "complex128": "float64"}.get(dtype, dtype)


def _check_dtype(dtype: str) -> None:
    if _real(dtype) not in GRADIENT_RANGE:
        raise ValueError(f"dtype must be one of {sorted(GRADIENT_RANGE) + ['complex64', 'complex128']}, got {dtype!r}")


@st.composite
def hyperparameters(
    draw: st.DrawFn,
    *,
    lr_decay: bool | None = None,
    weight_decay: bool | None = None,
    initial_accumulator_value: bool | None = None,
    eps: str | None = None,
    maximize: bool | None = None,
) -> dict[str, Any]:
    """A hyperparameter dict. For each flag: True = nonzero/on, False = zero/off, None = either.

    ``eps`` is one of ``"tiny"``, ``"large"``, ``"zero"`` or None (any of them).
    """
    if eps is not None and eps not in EPS:
        raise ValueError(f"eps must be one of {sorted(EPS)} or None, got {eps!r}")

    def on(flag: bool | None) -> bool:
        return draw(st.booleans()) if flag is None else bool(flag)

    def positive(lo: float, hi: float) -> float:
        return draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False))

    return {
        "lr": positive(1e-3, 1.0),
        "lr_decay": positive(1e-3, 0.5) if on(lr_decay) else 0.0,
        "weight_decay": positive(1e-3, 0.5) if on(weight_decay) else 0.0,
        "initial_accumulator_value": positive(1e-3, 1.0) if on(initial_accumulator_value) else 0.0,
        "eps": EPS[eps if eps is not None else draw(st.sampled_from(sorted(EPS)))],
        "maximize": on(maximize),
    }


def shapes(*, max_dims: int = 3, max_elements: int = 64, min_elements: int = 1) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes with between ``min_elements`` and ``max_elements`` elements."""
    if max_elements < min_elements or min_elements < 0:
        raise ValueError(f"need 0 <= min_elements <= max_elements, got {min_elements}, {max_elements}")
    side = st.integers(0 if min_elements == 0 else 1, max(1, max_elements))
    return st.lists(side, min_size=0 if min_elements <= 1 else 1, max_size=max_dims).map(tuple).filter(
        lambda s: min_elements <= int(np.prod(s)) <= max_elements
    )


@st.composite
def arrays(draw: st.DrawFn, *, dtype: str, shape: tuple[int, ...], kind: str) -> np.ndarray:
    """Values exactly representable in ``dtype`` (float64/complex128 arrays).

    ``kind``: ``"param"`` (|x| <= 4, zeros allowed), ``"grad"`` (|x| in :data:`GRADIENT_RANGE`,
    random sign) or ``"sum"`` (positive, in the accumulator range).
    """
    _check_dtype(dtype)
    if kind not in ("param", "grad", "sum"):
        raise ValueError(f"kind must be 'param', 'grad' or 'sum', got {kind!r}")
    real = _real(dtype)
    n = int(np.prod(shape)) * (2 if dtype.startswith("complex") else 1)
    if kind == "param":
        elem = st.floats(-_PARAM_RANGE, _PARAM_RANGE, allow_nan=False, allow_infinity=False)
    else:
        lo, hi = GRADIENT_RANGE[real] if kind == "grad" else _SUM_RANGE.get(real, _DEFAULT_SUM_RANGE)
        mag = st.floats(np.log(lo), np.log(hi)).map(np.exp)
        elem = st.tuples(st.sampled_from([-1.0, 1.0]) if kind == "grad" else st.just(1.0), mag).map(lambda t: t[0] * t[1])
    flat = np.array(draw(st.lists(elem, min_size=n, max_size=n)), dtype=np.float64)
    flat = round_to(flat, real)
    if kind != "param":  # rounding must not leave the range (e.g. to zero)
        flat = np.where(flat == 0, np.copysign(GRADIENT_RANGE[real][0], flat), flat)
    if dtype.startswith("complex"):
        return (flat[0::2] + 1j * flat[1::2]).reshape(shape)
    return flat.reshape(shape)


@st.composite
def cases(
    draw: st.DrawFn,
    *,
    dtype: str,
    hyper: st.SearchStrategy[dict[str, Any]] | None = None,
    steps: tuple[int, int] = (1, 8),
    shape: st.SearchStrategy[tuple[int, ...]] | None = None,
    n_params: tuple[int, int] = (1, 2),
    teacher_forced: bool = False,
    options: dict[str, Any] | None = None,
) -> Case:
    """A one-group :class:`~.harness.Case`; with ``teacher_forced`` a drawn state is loaded first."""
    _check_dtype(dtype)
    h = draw(hyper if hyper is not None else hyperparameters())
    count = draw(st.integers(*n_params))
    shp = [draw(shape if shape is not None else shapes(max_elements=16)) for _ in range(count)]
    n_steps = 1 if teacher_forced else draw(st.integers(*steps))
    params = [draw(arrays(dtype=dtype, shape=s, kind="param")) for s in shp]
    grads = [[draw(arrays(dtype=dtype, shape=s, kind="grad")) for s in shp] for _ in range(n_steps)]
    start = None
    if teacher_forced:
        start = [(draw(arrays(dtype=dtype, shape=s, kind="sum")), draw(st.integers(0, 10_000))) for s in shp]
    return Case(
        dtype=dtype,
        params=params,
        grads=grads,
        groups=[{**h, "params": list(range(count))}],
        options=dict(options or {}),
        start=start,
    )
