"""The failing cases a check keeps for its diagnosis do not depend on how the tests were
scheduled: each oracle service keeps its smallest, one per test, and the run takes the smallest
per test over all services, ordered by (size, test id)."""

from __future__ import annotations

import random

import pytest

from adagrad.conformance.diagnosis.search import MAX_RECORDS as REPLAYED
from adagrad.conformance.engine import oracle_service
from adagrad.conformance.engine.oracle_service import _Journal, kept_records

#: (test id, size) of failing cases in the order a test meets them: t03 shrinks from 40 to 6.
FAILURES = [(f"t{i:02d}", 10 + (i * 7) % 23) for i in range(12)] + [("t03", 6)]


def _fail(journal: _Journal, test: str, size: int) -> None:
    request = {"test_id": test, "case": {"size": size}, "trajectory": []}
    journal.write(request, {"failure": {"statement": "outside"}, "size": size})


def _run(state, split) -> list[tuple[str, int]]:
    """Two services (journals) share the tests as ``split`` says; each test runs in one of them."""
    state.mkdir()
    journals = [_Journal(str(state)), _Journal(str(state))]
    for test, size in FAILURES:
        _fail(journals[split(test)], test, size)
    return [(r["test_id"], r["size"]) for r in kept_records(state)]


def test_the_kept_cases_do_not_depend_on_the_scheduling(tmp_path, monkeypatch):
    monkeypatch.setattr(oracle_service, "MAX_RECORDS", 4)
    rng = random.Random(0)
    outcomes = set()
    for n in range(6):
        picks = {t: rng.randrange(2) for t, _ in FAILURES}
        outcomes.add(tuple(_run(tmp_path / str(n), lambda test, picks=picks: picks[test])))
    assert len(outcomes) == 1
    kept = outcomes.pop()
    # the run's smallest four, one per test, t03 at its smallest
    by_size = sorted(
        {t: min(s for u, s in FAILURES if u == t) for t, _ in FAILURES}.items(), key=lambda ts: (ts[1], ts[0])
    )
    assert list(kept) == by_size[:4]
    assert [t for t, _ in kept].count("t03") == 1 and ("t03", 6) in kept


def test_a_service_keeps_at_least_what_the_diagnosis_replays():
    assert oracle_service.MAX_RECORDS >= REPLAYED


@pytest.mark.parametrize("sizes", [(9, 5, 7), (5, 5, 9)])
def test_one_case_per_test_the_smallest(tmp_path, sizes):
    journal = _Journal(str(tmp_path))
    for size in sizes:
        _fail(journal, "only", size)
    assert [(r["test_id"], r["size"]) for r in kept_records(tmp_path)] == [("only", min(sizes))]
    assert len(list(tmp_path.glob("record-*.json"))) == 1
