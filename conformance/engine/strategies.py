"""Hypothesis strategies for the suite: hyperparameters, shapes, values per dtype, whole cases.

Every strategy takes keyword-only arguments and validates them. Values are drawn inside the
range where the error model of ``docs/error-model.md`` is valid for the dtype (see
:data:`GRADIENT_RANGE`): outside it a correct implementation could legitimately return
anything (an underflowed denominator), and the suite tests that regime separately.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st

from adagrad.conformance.engine.dtypes import round_to
from adagrad.conformance.engine.harness import Case
from adagrad.conformance.features import requires

__all__ = [
    "EPS",
    "GRADIENT_RANGE",
    "PATHS",
    "arrays",
    "cases",
    "hyperparameters",
    "lr_only",
    "REFUSALS",
    "check_or_refused",
    "path_name",
    "path_params",
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

#: The three paths of torch's Adagrad: the constructor options selecting each, and the features
#: a target must claim to be tested on it. Every feature that touches the update runs on all
#: three (``test_x[...-foreach]``), so a report says which path broke.
PATHS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "for-loop": ({"foreach": False}, ()),
    "foreach": ({"foreach": True}, ("foreach",)),
    "fused": ({"fused": True}, ("fused",)),
}


def path_params() -> list[Any]:
    """``pytest.param(options, id=path)`` for every path, marked ``requires(path)`` off the for-loop.

    Use as the outermost ``parametrize`` so the path is the last part of a test id
    (``test_layout[...-fused]``): known-divergence patterns rely on it.
    """
    return [
        pytest.param(dict(options), id=name, marks=[requires(*needs)] if needs else [])
        for name, (options, needs) in PATHS.items()
    ]


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


def lr_only(*, lo: float = 1e-3, hi: float = 1.0) -> st.SearchStrategy[dict[str, Any]]:
    """Hyperparameters for a feature that is not about them: a drawn lr, everything else left at
    the target's default (absent from the group), so a library lacking a keyword is still checked."""
    if not 0 < lo <= hi:
        raise ValueError(f"need 0 < lo <= hi, got {lo}, {hi}")
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False).map(lambda lr: {"lr": lr})


@st.composite
def shapes(draw: st.DrawFn, *, max_dims: int = 3, max_elements: int = 64, min_elements: int = 1) -> tuple[int, ...]:
    """Array shapes with between ``min_elements`` and ``max_elements`` elements.

    Sides are drawn one after the other within what the element budget leaves, so no draw is
    ever rejected (a filter on the product was the suite's slowest strategy).
    """
    if max_elements < min_elements or min_elements < 0 or max_dims < 0:
        raise ValueError(
            f"need 0 <= min_elements <= max_elements and max_dims >= 0, got {min_elements}, {max_elements}, {max_dims}"
        )
    if max_dims == 0 and min_elements > 1:
        raise ValueError(f"a 0-dim shape has 1 element, fewer than min_elements={min_elements}")
    ndim = draw(st.integers(0 if min_elements <= 1 else 1, max_dims))
    shape: list[int] = []
    for i in range(ndim):
        size = int(np.prod(shape))
        budget = max_elements // size if size else max(1, max_elements)
        low = 0 if min_elements == 0 else 1
        if i == ndim - 1 and size:  # the last side brings the count up to min_elements
            low = max(low, -(-min_elements // size))
        shape.append(draw(st.integers(low, max(low, budget))))
    return tuple(shape)


#: Bytes drawn per element: one 64-bit word, its low bit the sign, its top 52 bits the value.
_WORD = 8


def _unit(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Uniform values in [0, 1) and signs from a byte string (all-zero bytes: 0 and +)."""
    bits = np.frombuffer(raw, dtype="<u8")
    return (bits >> np.uint64(12)).astype(np.float64) / 2.0**52, np.where(bits & np.uint64(1), -1.0, 1.0)


@st.composite
def arrays(draw: st.DrawFn, *, dtype: str, shape: tuple[int, ...], kind: str) -> np.ndarray:
    """Values exactly representable in ``dtype`` (float64/complex128 arrays).

    ``kind``: ``"param"`` (|x| <= 4, about one in sixteen exactly 0), ``"grad"`` (|x| log-uniform
    in :data:`GRADIENT_RANGE`, random sign) or ``"sum"`` (positive, log-uniform in the accumulator
    range). The whole array is one draw of bytes (fast; it shrinks towards zeros, i.e. towards
    params of 0 and the smallest gradients).
    """
    _check_dtype(dtype)
    if kind not in ("param", "grad", "sum"):
        raise ValueError(f"kind must be 'param', 'grad' or 'sum', got {kind!r}")
    real = _real(dtype)
    n = int(np.prod(shape)) * (2 if dtype.startswith("complex") else 1)
    unit, sign = _unit(draw(st.binary(min_size=_WORD * n, max_size=_WORD * n)))
    if kind == "param":
        flat = np.where(unit < 1 / 16, 0.0, sign * unit * _PARAM_RANGE)
    else:
        lo, hi = GRADIENT_RANGE[real] if kind == "grad" else _SUM_RANGE.get(real, _DEFAULT_SUM_RANGE)
        flat = np.exp(np.log(lo) + unit * (np.log(hi) - np.log(lo))) * (sign if kind == "grad" else 1.0)
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


# -- what a path may refuse --------------------------------------------------------------------
#: Combinations torch 2.13 refuses, with its exception type and message (measured), by
#: ``(path, what)``. A target may refuse them the same way, or compute R1 correctly (doing more
#: than torch is conformant, spec R27); a wrong result, or another error, is not.
REFUSALS: dict[tuple[str, str], tuple[type[BaseException], str]] = {
    ("fused", "sparse"): (RuntimeError, r"^`fused` does not support sparse grad or complex param$"),
    ("fused", "complex"): (
        RuntimeError,
        r"^(`fused` does not support sparse grad or complex param"
        r"|`fused=True` requires all the params to be floating point Tensors of supported devices: .*)$",
    ),
    ("fused", "differentiable"): (RuntimeError, r"^`fused` does not support `differentiable`$"),
    ("foreach", "differentiable"): (AssertionError, r"^_foreach ops don't support autograd$"),
}


def path_name(options: dict[str, Any]) -> str:
    """The path constructor ``options`` select: ``"fused"``, ``"foreach"`` or ``"for-loop"``."""
    return "fused" if options.get("fused") else "foreach" if options.get("foreach") else "for-loop"


def check_or_refused(target: Any, case: Case, record: Any, *, what: str, needs: str) -> str:
    """:func:`~.harness.check_case`, also accepting torch's refusal of ``needs`` on the case's path.

    Returns ``"computed"`` (the result is within the error model) or ``"refused"`` (the target
    raised torch's exception type with torch's message, :data:`REFUSALS`). A wrong result fails;
    so does a refusal with another type or message, or on a path torch does not refuse.
    """
    from adagrad.conformance.engine.harness import ConformanceFailure, check_case

    refusal = REFUSALS.get((path_name(case.options), needs))
    try:
        check_case(target, case, record, what=what)
    except ConformanceFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - only torch's own refusal is accepted, anything else re-raised
        if refusal is None or not isinstance(exc, refusal[0]):
            raise
        if not re.search(refusal[1], str(exc)):
            raise AssertionError(
                f"{what}: refused with {type(exc).__name__}: {exc}; a refusal must be torch's "
                f"{refusal[0].__name__} matching {refusal[1]!r}"
            ) from exc
        return "refused"
    return "computed"
