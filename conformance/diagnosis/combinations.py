"""Scoring variants on the failing records: one alone, a pair, a pair with a modifier, a greedy combination.

Each try is a :class:`_Result` (which failures it explains, how tightly); the search
(:mod:`.search`) decides which tries to make and ranks the results.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adagrad.conformance.diagnosis.catalogue import CATALOGUE, variant
from adagrad.conformance.diagnosis.check import _check
from adagrad.conformance.diagnosis.fitting import _candidates
from adagrad.conformance.diagnosis.records import Record
from adagrad.conformance.diagnosis.result import Diagnosis
from adagrad.conformance.diagnosis.semantics import Semantics
from adagrad.conformance.diagnosis.variant import Variant


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
