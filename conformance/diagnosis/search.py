"""Which known variant explains a target's numerical failures: the search and its result.

:func:`diagnose` replays the failing cases (the target's saved trajectories: the target is not
run again) under each variant of the catalogue and each combination of two, under the suite's
error model, and names the ones that put every failure within the model. It never changes a
verdict: it only reads records of cases that already failed.

The work is bounded (a quick run gains at most ``budget_s`` seconds): at most ``max_records``
records (the smallest), single variants first (cheapest and exact first), pairs only when no
single variant explains everything, a pair dropped at its first unexplained record, and the
search stops at the time budget, saying so.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adagrad.conformance.diagnosis.catalogue import CATALOGUE, Fit, Variant, variant
from adagrad.conformance.diagnosis.records import Record
from adagrad.conformance.diagnosis.semantics import NotReplayable, Semantics, _narrower, _pairs, bound_dtype, replay
from adagrad.conformance.engine.dtypes import round_to
from adagrad.conformance.engine.harness import OutsideErrorModel, compare_arrays

__all__ = ["Diagnosis", "Explanation", "diagnose"]

#: Records replayed at most (the smallest). The larger records are the ones that tell variants
#: apart (a golden case with eps = 0, a subnormal range, a non-finite parameter): a quick run's
#: 60-80 failures of a library replay in under 5 s.
MAX_RECORDS = 100
#: Seconds the search may take (the issue's bound on a quick run is 30 s).
BUDGET_S = 20.0
#: Records used to fit a variant's parameter (first steps only).
FIT_RECORDS = 6
#: Complete explanations and partial ones listed at most.
LISTED = 3


@dataclass
class Explanation:
    """A variant, or two together, and how many failures it puts within the error model.

    Attributes:
        variants: catalogue names, e.g. ``["eps-inside-sqrt", "decoupled-weight-decay"]``.
        labels: their labels, e.g. ``["eps inside the square root", "decoupled weight decay"]``.
        rules: the spec rules they break.
        fitted: the fitted parameter of a variant that has one, by variant name.
        explained: failures within the error model under this explanation.
        failures: failures replayed.
        worst_ratio: largest |target - variant| / tolerance over the explained failures (0: the
            target computes exactly this variant's values).
    """

    variants: list[str]
    labels: list[str]
    rules: list[str]
    fitted: dict[str, Any]
    explained: int
    failures: int
    worst_ratio: float

    @property
    def label(self) -> str:
        """The labels joined by " + "."""
        return " + ".join(self.labels)

    @property
    def complete(self) -> bool:
        """Every failure is explained."""
        return self.explained == self.failures

    def describe(self) -> str:
        """One line: labels, count, rules, fitted values."""
        fitted = "".join(
            f"; {variant(n).fit.field if variant(n).fit else n} = {_show(v)}" for n, v in self.fitted.items()
        )
        return (
            f"{self.label}: {self.explained} of {self.failures} failures within the error model "
            f"(breaks {', '.join(self.rules)}{fitted})"
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        ratio = self.worst_ratio if math.isfinite(self.worst_ratio) else None
        return {
            "variants": list(self.variants),
            "labels": list(self.labels),
            "rules": list(self.rules),
            "fitted": {k: _plain(v) for k, v in self.fitted.items()},
            "explained": self.explained,
            "failures": self.failures,
            "worst_ratio": ratio,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Explanation:
        """Inverse of :meth:`to_json`."""
        ratio = data.get("worst_ratio")
        return cls(
            list(data["variants"]),
            list(data["labels"]),
            list(data["rules"]),
            dict(data["fitted"]),
            int(data["explained"]),
            int(data["failures"]),
            float("inf") if ratio is None else float(ratio),
        )


def _plain(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        return float(v)
    return v


def _show(v: Any) -> str:
    """Six significant digits, or as many as it takes to tell the value from its six-digit form
    (a fitted eps of float32's 0.1 is 0.100000001490116, not 0.1)."""
    if not isinstance(v, float):
        return str(v)
    return f"{v:.6g}" if float(f"{v:.6g}") == v else f"{v:.15g}"


@dataclass
class Diagnosis:
    """What the search found. :meth:`summary` is the text every renderer shows.

    Attributes:
        records: records given.
        replayed: records replayed, smallest first, until ``max_records`` failures were found.
        failures: replayed records outside the spec's error model (the numerical failures).
        explained_by: complete explanations, best first (simplest, then tightest, then
            catalogue order); empty when none was found.
        partial: explanations of some failures, most first.
        pairs_tried, pairs_total: combinations of variants tried, and worth trying (0 when a
            single variant explains everything): pairs, then the most promising pairs with a
            modifier (:attr:`Variant.modifier`) on top.
        complete: False when the time budget stopped the search.
        seconds: time the search took.
        notes: records left out and why.
        set_aside: records left out before replaying (no trajectory, a state_dict handover).
    """

    records: int
    replayed: int
    failures: int
    explained_by: list[Explanation] = field(default_factory=list)
    partial: list[Explanation] = field(default_factory=list)
    pairs_tried: int = 0
    pairs_total: int = 0
    complete: bool = True
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    set_aside: int = 0

    @property
    def explanation(self) -> Explanation | None:
        """The best complete explanation, or None."""
        return self.explained_by[0] if self.explained_by else None

    def summary(self) -> str:
        """The diagnosis as text, first line the answer."""
        if self.failures == 0 and not self.complete:
            lines = [f"diagnosis: not done: the time budget ran out after {self.replayed} of {self.records} records"]
            return "\n".join(lines + [f"  note: {n}" for n in self.notes])
        if self.failures == 0:
            lines = ["diagnosis: nothing to explain: every replayed record is within the spec's error model"]
            return "\n".join(lines + [f"  note: {n}" for n in self.notes])
        if self.explained_by:
            lines = [f"explained by: {self.explained_by[0].describe()}"]
            lines += [f"  also consistent with: {e.describe()}" for e in self.explained_by[1:]]
        else:
            lines = ["no known variant explains these failures"]
        lines += [f"  partly explained by: {e.describe()}" for e in self.partial]
        scope = f"  {self.failures} numerical failure(s) replayed"
        left = self.records - self.set_aside - self.replayed
        if left > 0:
            scope += f" (the smallest; {left} larger record(s) not replayed)"
        lines.append(scope + f"; {self.seconds:.1f} s")
        if not self.complete:
            lines.append(
                f"  the search stopped at its time budget (combinations of variants tried: {self.pairs_tried} of {self.pairs_total})"
            )
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (the report's ``"diagnosis"``); ``summary`` included for readers."""
        return {
            "records": self.records,
            "replayed": self.replayed,
            "failures": self.failures,
            "explained_by": [e.to_json() for e in self.explained_by],
            "partial": [e.to_json() for e in self.partial],
            "pairs_tried": self.pairs_tried,
            "pairs_total": self.pairs_total,
            "complete": self.complete,
            "seconds": round(self.seconds, 3),
            "notes": list(self.notes),
            "set_aside": self.set_aside,
            "summary": self.summary(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Diagnosis:
        """Inverse of :meth:`to_json` (``summary`` is recomputed)."""
        return cls(
            records=int(data["records"]),
            replayed=int(data["replayed"]),
            failures=int(data["failures"]),
            explained_by=[Explanation.from_json(e) for e in data["explained_by"]],
            partial=[Explanation.from_json(e) for e in data["partial"]],
            pairs_tried=int(data["pairs_tried"]),
            pairs_total=int(data["pairs_total"]),
            complete=bool(data["complete"]),
            seconds=float(data["seconds"]),
            notes=list(data["notes"]),
            set_aside=int(data.get("set_aside", 0)),
        )


# -- checking one record under some semantics ------------------------------------------------
@dataclass
class _Outcome:
    ok: bool
    ratio: float  # worst |target - variant| / tolerance over the steps compared
    differs: bool  # the variant's values differ from the spec's somewhere it was compared


def _size(r: Record) -> int:
    return sum(int(np.size(p)) for p in r.case.params) * max(1, len(r.trajectory))


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


# -- fitting a variant's parameter ------------------------------------------------------------
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


# -- the search -----------------------------------------------------------------------------
@dataclass
class _Result:
    names: tuple[str, ...]
    values: dict[str, Any]
    sem: Semantics
    explained: list[bool]
    ratio: float
    differs: bool

    @property
    def count(self) -> int:
        return sum(self.explained)


def _evaluate(
    names: tuple[str, ...],
    values: dict[str, Any],
    sem: Semantics,
    failures: Sequence[Record],
    spec: Sequence[list[Any]],
    *,
    stop_early: bool,
) -> _Result:
    explained, ratio, differs = [], 0.0, False
    for r, sp in zip(failures, spec):
        out = _check(r, sem, sp)
        differs = differs or out.differs
        explained.append(out.ok)
        if out.ok:
            ratio = max(ratio, out.ratio)
        elif stop_early:
            explained += [False] * (len(failures) - len(explained))
            break
    return _Result(names, values, sem, explained, ratio, differs)


def _best_single(v: Variant, failures, spec) -> _Result:
    best = None
    for value in _candidates(v, failures, Semantics()):
        res = _evaluate(
            (v.name,),
            {} if value is None else {v.name: value},
            v.semantics(None, value),
            failures,
            spec,
            stop_early=False,
        )
        if best is None or (res.count, -res.ratio) > (best.count, -best.ratio):
            best = res
    assert best is not None
    return best


def _best_pair(a: _Result, b: Variant, failures, spec) -> _Result:
    best = None
    for value in _candidates(b, failures, a.sem):
        values = {**a.values, **({} if value is None else {b.name: value})}
        res = _evaluate(a.names + (b.name,), values, b.semantics(a.sem, value), failures, spec, stop_early=True)
        if best is None or (res.count, -res.ratio) > (best.count, -best.ratio):
            best = res
        if res.count == len(failures):
            break
    assert best is not None
    return best


def _explanation(res: _Result, failures: int) -> Explanation:
    vs = [variant(n) for n in res.names]
    rules = sorted({r for v in vs for r in v.rules}, key=lambda r: (r[0], int(r[1:])))
    return Explanation(list(res.names), [v.label for v in vs], rules, dict(res.values), res.count, failures, res.ratio)


def _rank(res: _Result) -> tuple:
    order = {v.name: i for i, v in enumerate(CATALOGUE)}
    return (len(res.names), max(variant(n).looseness for n in res.names), res.ratio, [order[n] for n in res.names])


#: Pairs (the most promising) tried again with a modifier (how the numbers are held) on top.
MODIFIED_PAIRS = 10


def _with_modifier(
    singles: list[_Result], pairs: list[tuple[_Result, _Result]], failures, spec, deadline: float, diag: Diagnosis
) -> list[_Result]:
    """Pairs of variants with a modifier on top (Keras 3 for float64: eps inside + decoupled + lr in float32)."""
    mods = [variant(s.names[0]) for s in singles if variant(s.names[0]).modifier]
    best = sorted(
        ((a, b) for a, b in pairs if not variant(a.names[0]).modifier and not variant(b.names[0]).modifier),
        key=lambda ab: -(ab[0].count + ab[1].count),
    )[:MODIFIED_PAIRS]
    found = []
    diag.pairs_total += len(best) * len(mods)
    for a, b in best:
        second = variant(b.names[0])
        base = second.semantics(a.sem, b.values.get(second.name))
        for m in mods:
            if time.monotonic() > deadline:
                diag.complete = False
                return found
            diag.pairs_tried += 1
            res = _evaluate(
                a.names + b.names + (m.name,),
                {**a.values, **b.values},
                m.semantics(base),
                failures,
                spec,
                stop_early=True,
            )
            if res.count == len(failures):
                found.append(res)
    return found


#: Tests whose run is not the case alone: the optimizer is swapped for another (constructed with
#: other hyperparameters) through state_dict mid-run, which a record's case does not describe.
HANDOVER_TESTS = ("test_handover_matches_uninterrupted_run", "test_hyperparameter_restored")
#: Non-contiguous layouts in test_layouts' ids (dtype-<grad layout>-<param layout>-...).
STRIDED = ("transposed", "sliced", "expanded")


def _test_name(record: Record) -> tuple[str, list[str]]:
    name, _, params = record.test_id.split("::")[-1].partition("[")
    return name, params.rstrip("]").split("-")


def _handed_over(record: Record) -> bool:
    return _test_name(record)[0] in HANDOVER_TESTS


def _strided(record: Record) -> bool:
    name, params = _test_name(record)
    return name == "test_layout" and any(p in STRIDED for p in params)


#: Records set aside before replaying, and why: their failure is not a variant of the arithmetic.
_SET_ASIDE = (
    (
        _handed_over,
        "of a state_dict handover (the case does not say what was loaded into which optimizer: "
        "state-dict's own failures, not arithmetic)",
    ),
    (
        _strided,
        "on non-contiguous tensors (R29: a layout's own failure; the arithmetic is judged on the contiguous cases)",
    ),
)


#: Variants combined at most by the greedy step (a library that differs in several independent ways).
MAX_COMBINED = 5


def _greedy(singles: list[_Result], failures, spec, deadline: float, diag: Diagnosis) -> _Result | None:
    """Several independent differences: from the single variant that explains most, add the variant
    (of another part of the update) that explains most of the failures still unexplained, kept only
    if the combination still explains the others; repeated while it adds something. The
    combination is complete when it explains every failure, else the best partial one (or None)."""
    n = len(failures)
    start = max(
        (s for s in singles if s.count > 0), key=lambda s: (s.count, -variant(s.names[0]).looseness), default=None
    )
    if start is None:
        return None
    current = start
    while current.count < n and len(current.names) < MAX_COMBINED:
        parts = {variant(x).part for x in current.names}
        left = [i for i in range(n) if not current.explained[i]]
        sub_f, sub_s = [failures[i] for i in left], [spec[i] for i in left]
        scored = []
        for v in CATALOGUE:
            if v.name in current.names or v.part in parts:
                continue
            if time.monotonic() > deadline:
                diag.complete = False
                return current if len(current.names) > 1 else None
            diag.pairs_tried += 1
            diag.pairs_total += 1
            for value in _candidates(v, sub_f, current.sem):
                values = {**current.values, **({} if value is None else {v.name: value})}
                res = _evaluate(
                    current.names + (v.name,), values, v.semantics(current.sem, value), sub_f, sub_s, stop_early=False
                )
                if res.count:
                    scored.append((res.count, -variant(v.name).looseness, res))
        improved = None
        for _, _, res in sorted(scored, key=lambda x: x[:2], reverse=True)[:3]:  # the most promising, checked on all
            whole = _evaluate(res.names, res.values, res.sem, failures, spec, stop_early=False)
            if whole.count > current.count and (improved is None or whole.count > improved.count):
                improved = whole
        if improved is None:
            break
        current = improved
    return current if len(current.names) > 1 else None


def diagnose(records: list[Record], *, max_records: int = MAX_RECORDS, budget_s: float = BUDGET_S) -> Diagnosis:
    """Name the known variants that explain the numerical failures in ``records``.

    Args:
        records: records of failing cases (:class:`Record`); those within the spec's error
            model (not numerical failures) are set aside, as are empty trajectories.
        max_records: replay at most this many records, the smallest first.
        budget_s: stop searching after this many seconds (the result says so).

    Returns:
        A :class:`Diagnosis`; its ``explained_by`` is empty when no variant or pair of variants
        puts every failure within the error model.
    """
    start = time.monotonic()
    deadline = start + budget_s
    notes = []
    usable = [r for r in records if r.trajectory]
    if len(usable) < len(records):
        notes.append(
            f"{len(records) - len(usable)} record(s) without a trajectory (the target failed before its first step) left out"
        )
    for test, why in _SET_ASIDE:
        out = [r for r in usable if test(r)]
        if out:
            usable = [r for r in usable if not test(r)]
            notes.append(f"{len(out)} record(s) {why} left out")
    spec_runs, failures = [], []
    within = replayed = 0
    cut_short = False
    for r in sorted(usable, key=_size):  # the smallest first, until max_records failures
        if len(failures) >= max_records:
            break
        if time.monotonic() > deadline:
            cut_short = True
            break
        replayed += 1
        try:
            sp = [(v.params, v.sums, v.steps) for v in replay(r.case, Semantics(), bounds=False)]
        except (NotReplayable, ValueError) as exc:
            notes.append(f"{r.test_id}: not replayable: {exc}")
            continue
        if _check(r, Semantics(), None).ok:
            within += 1
            continue
        failures.append(r)
        spec_runs.append(sp)
    if within:
        notes.append(f"{within} record(s) within the spec's error model (not numerical failures) left out")
    diag = Diagnosis(
        records=len(records),
        replayed=replayed,
        failures=len(failures),
        notes=notes,
        complete=not cut_short,
        set_aside=len(records) - len(usable),
    )
    if not failures:
        diag.seconds = round(time.monotonic() - start, 3)
        return diag

    singles: list[_Result] = []
    for v in CATALOGUE:
        if time.monotonic() > deadline:
            diag.complete = False
            break
        singles.append(_best_single(v, failures, spec_runs))
    n = len(failures)
    full = sorted((s for s in singles if s.count == n), key=_rank)
    pairs_full: list[_Result] = []
    combined: _Result | None = None
    if not full:
        active = sorted((s for s in singles if s.differs), key=lambda s: -s.count)
        todo = [
            (a, b) for a, b in itertools.combinations(active, 2) if variant(a.names[0]).part != variant(b.names[0]).part
        ]
        diag.pairs_total = len(todo)
        # failures explained by the fewest single variants first: a pair fails on them soonest
        hardness = np.array([sum(s.explained[i] for s in singles) for i in range(n)])
        order = list(np.argsort(hardness, kind="stable"))
        f_sorted = [failures[i] for i in order]
        s_sorted = [spec_runs[i] for i in order]
        for a, b in todo:
            if time.monotonic() > deadline:
                diag.complete = False
                break
            diag.pairs_tried += 1
            first, second = (a, b) if variant(b.names[0]).fit is not None or variant(a.names[0]).fit is None else (b, a)
            res = _best_pair(first, variant(second.names[0]), f_sorted, s_sorted)
            if res.count == n:
                pairs_full.append(res)
        if not pairs_full and diag.complete:
            pairs_full = _with_modifier(singles, todo, f_sorted, s_sorted, deadline, diag)
        if not pairs_full and diag.complete:
            combined = _greedy(singles, failures, spec_runs, deadline, diag)
            if combined is not None and combined.count == n:
                pairs_full = [combined]
        full = sorted(pairs_full, key=_rank)
    if full:  # the simplest explanations only: a looser error model is named only when no exact one explains
        least = min(max(variant(x).looseness for x in r.names) for r in full)
        full = [r for r in full if max(variant(x).looseness for x in r.names) == least]
    diag.explained_by = [_explanation(r, n) for r in full[:LISTED]]
    # most failures first; between equal counts, an exact error model before a looser one
    partial = sorted((s for s in singles if 0 < s.count < n), key=lambda s: (-s.count,) + _rank(s))
    if not full and combined is not None and combined.count < n:
        partial.insert(0, combined)
    diag.partial = [_explanation(r, n) for r in partial[:LISTED]]
    diag.seconds = round(time.monotonic() - start, 3)
    return diag
