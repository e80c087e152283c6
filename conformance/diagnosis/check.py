"""Is a target's trajectory within the error model of a variant's replay? One record, one semantics.

A first pass without tolerances settles the common cases cheaply; otherwise the variant is
replayed with the error model's tolerances and compared as the suite compares
(:func:`~adagrad.conformance.engine.comparison.compare_arrays`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from adagrad.conformance.diagnosis.records import Record
from adagrad.conformance.diagnosis.replay import replay
from adagrad.conformance.diagnosis.semantics import NotReplayable, Semantics, bound_dtype
from adagrad.conformance.diagnosis.values import _narrower, _pairs
from adagrad.conformance.engine.comparison import OutsideErrorModel, compare_arrays
from adagrad.conformance.engine.dtypes import round_to


@dataclass
class _Outcome:
    ok: bool
    ratio: float  # worst |target - variant| / tolerance over the steps compared
    differs: bool  # the variant's values differ from the spec's somewhere it was compared


#: Relative differences (to the step's magnitude) that no tolerance of the error model reaches in
#: the suite's ranges (float64's grow to some 1e-14 over 60 steps, float32's to some 1e-5): such a
#: variant is rejected without computing the tolerance. Only a shortcut: it can make the diagnosis
#: miss an explanation, never invent one.
_HOPELESS = {"float64": 2.0**-30, "float32": 2.0**-10}


def _check(record: Record, sem: Semantics, spec: list[Any] | None) -> _Outcome:
    """Is the target's trajectory within the error model of ``sem``'s trajectory? Stops at the first step outside.

    A first pass without tolerances settles the common cases cheaply: a trajectory equal bit for
    bit (explained), wrong step counts or a hopeless difference (not explained). Otherwise the
    variant is replayed with the error model's tolerances and compared as the suite compares.
    """
    case = record.case
    dtype = {"complex64": "float32", "complex128": "float64"}.get(case.dtype, case.dtype)
    differs, equal = False, True
    # a variant computed in a narrower dtype is compared under that dtype's model: so is the shortcut
    hopeless = _HOPELESS.get(bound_dtype(case, sem))
    # a variant that holds values in a narrower dtype is only compared where the target's values are
    # that dtype's numbers: its wider error model must not absorb deviations of another kind
    held_p = sem.compute_dtype if _narrower(sem.compute_dtype, dtype) else None
    held_s = sem.accumulator_dtype if _narrower(sem.accumulator_dtype, dtype) else held_p
    before: list[Any] = list(case.params)
    try:
        for k, (got, want) in enumerate(zip(record.trajectory, replay(case, sem, bounds=False))):
            params, sums, steps = got
            if spec is not None and k < len(spec) and not differs:
                differs = (
                    not _same(want.params, spec[k][0]) or not _same(want.sums, spec[k][1]) or want.steps != spec[k][2]
                )
            if list(steps) != list(want.steps) or len(sums) != len(want.sums):
                return _Outcome(False, math.inf, differs)
            if any((a is None) != (e is None) for a, e in zip(sums, want.sums)):
                return _Outcome(False, math.inf, differs)
            if (held_p and not _held_in(params, held_p)) or (held_s and not _held_in(sums, held_s)):
                return _Outcome(False, math.inf, differs)
            if not (_same(params, want.params) and _same(sums, want.sums)):
                equal = False
                if hopeless is not None and _hopeless(params, want.params, before, hopeless):
                    return _Outcome(False, math.inf, differs)
            before = want.params
    except (NotReplayable, ValueError, FloatingPointError):
        return _Outcome(False, math.inf, differs)
    if equal:
        return _Outcome(True, 0.0, differs)
    return _Outcome(*_check_bounds(record, sem, dtype), differs)


def _held_in(values: Sequence[Any], dtype: str) -> bool:
    """Every value is a number of ``dtype`` (NaN and infinities included)."""
    for x in values:
        if x is not None:
            x = _pairs(x)
            if not np.array_equal(round_to(x, dtype), x, equal_nan=True):
                return False
    return True


def _hopeless(actual: Sequence[Any], expected: Sequence[Any], before: Sequence[Any], limit: float) -> bool:
    for a, e, b in zip(actual, expected, before):
        a, e, b = _pairs(a), _pairs(e), _pairs(b)
        with np.errstate(all="ignore"):
            scale = np.maximum(np.abs(e), np.abs(b))
            far = np.isfinite(e) & np.isfinite(scale) & (np.abs(a - e) > limit * scale)
        if far.any():
            return True
    return False


def _check_bounds(record: Record, sem: Semantics, dtype: str) -> tuple[bool, float]:
    """The suite's comparison (harness.compare_arrays) of every step against ``sem``'s replay with tolerances."""
    case = record.case
    before_p: list[Any] = list(case.params)
    before_s: list[Any] = [s for s, _ in case.start] if case.start else [None] * len(case.params)
    ratio = 0.0
    try:
        for got, want in zip(record.trajectory, replay(case, sem)):
            params, sums, _ = got
            for i in range(len(case.params)):
                for a, e, b, prev in (
                    (params[i], want.params[i], want.param_bounds[i], before_p[i]),
                    (sums[i], want.sums[i], want.sum_bounds[i], before_s[i]),
                ):
                    if e is None:
                        continue
                    if b is None:  # a parameter not handed to the optimizer yet: nothing computed, exact
                        b = np.zeros(np.shape(_pairs(e)))
                    _, problem = compare_arrays(a, e, b, dtype, prev)
                    if problem:
                        return False, math.inf
                    ratio = max(ratio, _ratio(a, e, b))
            before_p, before_s = want.params, want.sums
    except (OutsideErrorModel, NotReplayable, ValueError, FloatingPointError):
        return False, math.inf
    return True, ratio


def _same(xs: Sequence[Any], ys: Sequence[Any]) -> bool:
    for x, y in zip(xs, ys):
        if (x is None) != (y is None):
            return False
        if x is not None and not np.array_equal(x, y, equal_nan=True):
            return False
    return True


def _ratio(a: Any, e: Any, b: Any) -> float:
    a, e = _pairs(a), _pairs(e)
    with np.errstate(all="ignore"):
        err = np.abs(a - e)
        r = np.where(np.isfinite(e) & (err > 0), err / np.broadcast_to(b, e.shape), 0.0)
    return float(r.max()) if r.size else 0.0
