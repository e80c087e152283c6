"""Which known variant explains a target's numerical failures: the search.

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
import time

import numpy as np

from adagrad.conformance.diagnosis.catalogue import CATALOGUE, variant
from adagrad.conformance.diagnosis.check import _check
from adagrad.conformance.diagnosis.combinations import _best_pair, _best_single, _greedy, _Result, _with_modifier
from adagrad.conformance.diagnosis.records import Record
from adagrad.conformance.diagnosis.replay import replay
from adagrad.conformance.diagnosis.result import Diagnosis, Explanation
from adagrad.conformance.diagnosis.selection import _SET_ASIDE, _size
from adagrad.conformance.diagnosis.semantics import NotReplayable, Semantics

__all__ = ["BUDGET_S", "MAX_RECORDS", "diagnose"]


#: Records replayed at most (the smallest). The larger records are the ones that tell variants
#: apart (a golden case with eps = 0, a subnormal range, a non-finite parameter): a quick run's
#: 60-80 failures of a library replay in under 5 s.
MAX_RECORDS = 100
#: Seconds the search may take (the issue's bound on a quick run is 30 s).
BUDGET_S = 20.0
#: Complete explanations and partial ones listed at most.
LISTED = 3


def _explanation(res: _Result, failures: int) -> Explanation:
    vs = [variant(n) for n in res.names]
    rules = sorted({r for v in vs for r in v.rules}, key=lambda r: (r[0], int(r[1:])))
    return Explanation(list(res.names), [v.label for v in vs], rules, dict(res.values), res.count, failures, res.ratio)


def _rank(res: _Result) -> tuple:
    order = {v.name: i for i, v in enumerate(CATALOGUE)}
    return (len(res.names), max(variant(n).looseness for n in res.names), res.ratio, [order[n] for n in res.names])


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
