"""The verdict rules of REPORT.md, one row per outcome and run status; feature status words; smallest failure."""

from __future__ import annotations

from typing import Any

import pytest

from adagrad.conformance.features import FEATURES
from adagrad.conformance.reporting.model import OUTCOMES, RUN_STATUSES, Report, Result
from adagrad.conformance.reporting.summary import (
    EXIT_STATUS,
    feature_rows,
    render_summary,
    smallest_failure,
    verdict,
    verdict_line,
)
from tests.reporting.synthetic import base_report, result


def _report(changes: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    """Two passing tests per feature; ``changes`` sets the outcome of ``FEATURE`` test 0."""
    results = [result(f"test_{f}.py::test_{k}", f) for f in FEATURES for k in range(2)]
    for feature, outcome in (changes or {}).items():
        results[list(FEATURES).index(feature) * 2]["outcome"] = outcome
    return base_report(results, verdict="conformant", **fields)


NC, NV, OK, INT = ("non-conformant", 1), ("not-verified", 3), ("conformant", 0), ("interrupted", 130)
CASES = [
    ("all passed", {}, {}, OK),
    ("failed", {"fused": "failed"}, {}, NC),
    ("crashed", {"fused": "crashed"}, {}, NC),
    ("timed-out", {"fused": "timed-out"}, {}, NC),
    ("skipped-unexpectedly", {"fused": "skipped-unexpectedly"}, {}, NC),
    ("xfailed", {"groups": "xfailed"}, {}, OK),
    ("xpassed", {"groups": "xpassed"}, {}, OK),
    ("xpassed strict", {"groups": "xpassed"}, {"strict": True}, NC),
    ("unsupported", {"hooks": "unsupported"}, {}, OK),
    ("not-claimed outcome", {"golden": "not-claimed"}, {}, OK),
    ("excluded outcome", {"golden": "excluded"}, {}, OK),
    ("not-run", {"golden": "not-run"}, {}, NV),
    ("not-run in an excluded feature", {"sparse": "not-run"}, {"excluded": ["sparse"]}, OK),
    ("not-run in a feature not claimed", {"sparse": "not-run"}, {"not_claimed": ["sparse"]}, OK),
    ("failed and not-run", {"fused": "failed", "golden": "not-run"}, {}, NC),
    (
        "run stopped-early",
        {},
        {"run": {"status": "stopped-early", "reason": "10 workers crashed", "timeouts": 0, "wall_seconds": 3.0}},
        NV,
    ),
    (
        "run infrastructure-error",
        {},
        {"run": {"status": "infrastructure-error", "reason": "oracle died", "timeouts": 0, "wall_seconds": 3.0}},
        NV,
    ),
    (
        "run interrupted",
        {},
        {"run": {"status": "interrupted", "reason": "SIGINT", "timeouts": 0, "wall_seconds": 3.0}},
        INT,
    ),
    (
        "interrupted after a failure",
        {"fused": "failed"},
        {"run": {"status": "interrupted", "reason": None, "timeouts": 0, "wall_seconds": 3.0}},
        NC,
    ),
    (
        "interrupted with tests not run",
        {"golden": "not-run"},
        {"run": {"status": "interrupted", "reason": None, "timeouts": 0, "wall_seconds": 3.0}},
        INT,
    ),
    ("infrastructure problem", {}, {"problems": ["the probe timed out while importing torch"]}, NV),
]


@pytest.mark.parametrize(("changes", "fields", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_verdict_rules(changes, fields, expected):
    assert verdict(_report(changes, **fields)) == expected


def test_every_outcome_and_run_status_is_covered():
    covered = {o for c in CASES for o in c[1].values()} | {"passed"}
    assert covered == set(OUTCOMES)
    statuses = {c[2].get("run", {}).get("status", "complete") for c in CASES}
    assert statuses == set(RUN_STATUSES)
    assert set(EXIT_STATUS) == {c[3][0] for c in CASES}


def test_all_tests_of_a_claimed_feature_not_run():
    report = _report({"golden": "not-run"})
    report["results"][list(FEATURES).index("golden") * 2 + 1]["outcome"] = "not-run"
    assert verdict(report) == NV
    assert "Verdict: NOT VERIFIED (2 of " in verdict_line(report)
    assert {r.feature: r.status for r in feature_rows(report)}["golden"] == "not run"


def test_a_claimed_feature_without_results_is_not_verified():
    report = _report()
    report["results"] = [r for r in report["results"] if r["feature"] != "complex"]
    assert verdict(report) == NV
    assert verdict_line(report) == "Verdict: NOT VERIFIED (no test of complex)"
    report["not_claimed"] = ["complex"]
    assert verdict(report) == OK


@pytest.mark.parametrize(
    ("report", "line"),
    [
        (_report(), "Verdict: CONFORMANT"),
        (_report({"fused": "failed", "layouts": "crashed"}), "Verdict: NON-CONFORMANT (failed: fused, layouts)"),
        (_report({"groups": "xpassed"}, strict=True), "Verdict: NON-CONFORMANT (failed: groups)"),
        (
            _report({"golden": "not-run"}, problems=["p"]),
            f"Verdict: NOT VERIFIED (1 of {2 * len(FEATURES)} tests not run, in golden; 1 infrastructure problem)",
        ),
        (
            _report(run={"status": "stopped-early", "reason": "xdist gave up", "timeouts": 2, "wall_seconds": 1.0}),
            "Verdict: NOT VERIFIED (run stopped-early: xdist gave up)",
        ),
        (
            _report(run={"status": "interrupted", "reason": None, "timeouts": 0, "wall_seconds": 1.0}),
            "Verdict: INTERRUPTED",
        ),
    ],
    ids=["conformant", "non-conformant", "strict", "not-verified", "stopped-early", "interrupted"],
)
def test_verdict_line(report, line):
    assert verdict_line(report) == line
    assert render_summary(report).rstrip().splitlines()[-1] == line


STATUS = [
    (["passed", "passed"], None, "ok"),
    (["passed", "failed"], None, "FAIL"),
    (["crashed"], None, "FAIL"),
    (["passed", "xfailed"], None, "ok"),
    (["passed", "unsupported"], None, "partial"),
    (["unsupported", "unsupported"], None, "unsupported"),
    (["passed", "not-run"], None, "not verified"),
    (["not-run", "not-run"], None, "not run"),
    (["excluded", "excluded"], "excluded", "excluded"),
    (["not-claimed"], "not_claimed", "not claimed"),
    (["passed", "not-claimed"], None, "ok"),
    (["excluded"], None, "excluded"),
    (["failed"], "excluded", "FAIL"),  # a failure is shown even where nothing should have run
]


@pytest.mark.parametrize(("outcomes", "listed", "status"), STATUS, ids=[f"{'+'.join(s[0])}-{s[1]}" for s in STATUS])
def test_feature_status(outcomes, listed, status):
    results = [result(f"test_fused.py::test_{k}", "fused", o) for k, o in enumerate(outcomes)]
    fields = {listed: ["fused"]} if listed else {}
    row = next(r for r in feature_rows(base_report(results, verdict="conformant", **fields)) if r.feature == "fused")
    assert row.status == status
    assert sum(row.counts.values()) == len(outcomes)


def test_feature_row_paths_and_worst_ulps():
    results = [
        result("a", "fused", "passed", path="fused", worst_ulps=2.0),
        result("b", "fused", "failed", path="fused", worst_ulps=9.0),
        result("c", "fused", "xfailed", path="foreach", worst_ulps=1e9),  # accepted: not in worst
        result("d", "fused", "passed", worst_ulps=None),
    ]
    row = next(r for r in feature_rows(base_report(results, verdict="conformant")) if r.feature == "fused")
    assert row.worst_ulps == 9.0
    assert row.failing_paths == ["fused"]
    assert row.paths == {None: "ok", "foreach": "ok", "fused": "FAIL"}
    assert [r.id for r in row.failures] == ["b"]


def _r(test_id: str, outcome: str, size: int | None) -> Result:
    return Result(test_id, "fused", outcome, case_size=size)


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([_r("b", "failed", 40), _r("a", "failed", 12), _r("c", "failed", 300)], "a"),
        ([_r("b", "failed", 12), _r("a", "failed", 12)], "a"),  # ties by id
        ([_r("a", "failed", None), _r("b", "failed", 500)], "b"),  # unknown size last
        ([_r("a", "crashed", 1), _r("b", "failed", 500)], "b"),  # a measured failure before a crash
        ([_r("a", "passed", 1), _r("b", "timed-out", None)], "b"),
        ([_r("a", "passed", 1), _r("b", "xfailed", 1)], None),
    ],
)
def test_smallest_failure(results, expected):
    found = smallest_failure(results)
    assert (found.id if found else None) == expected


def test_summary_shows_the_smallest_failing_statement_whole_and_first():
    long = "param 0 after step 3: " + "x" * 3000 + " END"
    results = [
        result(
            "test_fused.py::test_big",
            "fused",
            "failed",
            case_size=900,
            failure={
                "statement": "big case",
                "step": 1,
                "tensor": "param",
                "tensor_index": 0,
                "index": None,
                "target": None,
                "oracle": None,
                "ulps": None,
                "tolerance_ulps": None,
                "snippet": None,
            },
        ),
        result(
            "test_fused.py::test_small",
            "fused",
            "failed",
            case_size=6,
            path="fused",
            failure={
                "statement": long,
                "step": 3,
                "tensor": "param",
                "tensor_index": 0,
                "index": [1],
                "target": 1.0,
                "oracle": 2.0,
                "ulps": 5.0,
                "tolerance_ulps": 1.0,
                "snippet": "import torch\nSNIPPET_LINE",
            },
        ),
    ]
    text = render_summary(Report.from_json(base_report(results)))
    assert long in text
    assert "big case" not in text  # only the smallest case is spelled out
    assert (
        text.index("Smallest failing case: test_fused.py::test_small") < text.index(long) < text.index("SNIPPET_LINE")
    )
    row = next(line for line in text.splitlines() if line.startswith("fused "))
    assert row.split()[1] == "FAIL" and row.rstrip().endswith("fused")


def test_verdict_of_a_report_the_runner_has_not_judged_yet():
    """The runner asks for the verdict before the report has its "verdict" key."""
    report = _report({"fused": "failed"})
    del report["verdict"]
    assert verdict(report) == NC
    assert "Verdict: NON-CONFORMANT" in render_summary(report)
