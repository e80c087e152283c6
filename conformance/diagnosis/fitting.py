"""Fitting a variant's parameter (a hidden eps, a fixed tau, ...) to the target's first steps.

:func:`_candidates` gives the values of a variant's parameter worth trying: a fitted value (and
its two-digit form), each of a variant's choices, or None for a variant without a parameter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adagrad.conformance.diagnosis.records import Record
from adagrad.conformance.diagnosis.replay import replay
from adagrad.conformance.diagnosis.semantics import NotReplayable, Semantics
from adagrad.conformance.diagnosis.values import _pairs
from adagrad.conformance.diagnosis.variant import Fit, Variant

#: Records used to fit a variant's parameter (first steps only).
FIT_RECORDS = 6


def _first_step_obs(record: Record, sem: Semantics, observe: str) -> np.ndarray | None:
    try:
        v = next(replay(record.case, sem, bounds=False))
    except (StopIteration, NotReplayable, ValueError):
        return None
    xs = v.params if observe == "param" else v.sums
    return np.concatenate([_pairs(x).reshape(-1) for x in xs if x is not None] or [np.zeros(0)])


def _target_obs(record: Record, observe: str) -> np.ndarray:
    params, sums, _ = record.trajectory[0]
    xs = params if observe == "param" else sums
    return np.concatenate([_pairs(x).reshape(-1) for x in xs if x is not None] or [np.zeros(0)])


def _fit_value(records: Sequence[Record], build: Callable[[Any], Semantics], fit: Fit) -> float | None:
    """The parameter value that best reproduces the target's first steps (median over elements).

    For each element, the difference target - variant changes sign where the value fits: a
    coarse grid brackets it (linear interpolation inside the bracket), then Newton steps on each
    element from the median estimate, the median of their results taken each time. None when
    the parameter changes nothing on these records.
    """
    samples = [(r, _target_obs(r, fit.observe)) for r in records[:FIT_RECORDS]]
    to_value = (lambda x: 10.0**x) if fit.grid == "log" else (lambda x: x)

    def residual(x: float) -> np.ndarray:
        sem = build(to_value(x))
        parts = []
        for r, target in samples:
            obs = _first_step_obs(r, sem, fit.observe)
            parts.append(np.full(target.shape, np.nan) if obs is None or obs.shape != target.shape else obs - target)
        return np.concatenate(parts) if parts else np.zeros(0)

    ends = [residual(fit.lo), residual(fit.hi)]
    if ends[0].size == 0 or np.array_equal(ends[0], ends[1], equal_nan=True):
        return None  # the parameter has no effect here
    xs = np.linspace(fit.lo, fit.hi, 25)
    y = np.array([ends[0]] + [residual(float(x)) for x in xs[1:-1]] + [ends[1]])
    with np.errstate(invalid="ignore"):
        y0, y1 = y[:-1], y[1:]
        crossing = np.isfinite(y0) & np.isfinite(y1) & (np.sign(y0) * np.sign(y1) < 0)
    if not crossing.any():
        return None
    j, col = np.nonzero(crossing)
    x = float(np.median(xs[j] + y0[j, col] / (y0[j, col] - y1[j, col]) * (xs[j + 1] - xs[j])))
    span = fit.hi - fit.lo
    for _ in range(6):
        h = 1e-7 * span
        r0, r1 = residual(x), residual(x + h)
        with np.errstate(all="ignore"):
            slope = (r1 - r0) / h
            ok = np.isfinite(r0) & np.isfinite(slope) & (slope != 0)
        if not ok.any():
            break
        new = float(np.median(x - r0[ok] / slope[ok]))
        new = min(max(new, fit.lo), fit.hi)
        if abs(new - x) <= 1e-15 * max(1.0, abs(x)):
            x = new
            break
        x = new
    return to_value(x)


def _snap(value: float, fit: Fit) -> float:
    """The value to two significant digits, or 0 when it is 0 to within the fit's resolution
    (a library's constant, e.g. 1e-7, or a value left at 0, is then found exactly)."""
    if value == 0 or not math.isfinite(value):
        return value
    if fit.grid == "linear" and abs(value) <= 1e-9 * (fit.hi - fit.lo):
        return 0.0
    return float(f"{value:.2g}")


def _candidates(v: Variant, failures: Sequence[Record], base: Semantics) -> list[Any]:
    """Values of a variant's parameter to try with ``base`` (None for a variant without one)."""
    if v.fit is None:
        return [None]
    if v.fit.grid == "choices":
        return list(v.fit.choices)
    fitted = _fit_value(failures, lambda x: v.semantics(base, x), v.fit)
    if fitted is None:
        return [v.fit.default]
    snapped = _snap(fitted, v.fit)
    return [snapped, fitted] if snapped != fitted else [fitted]
