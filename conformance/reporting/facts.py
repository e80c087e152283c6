"""The facts of a report that every renderer shows: one row per feature, the smallest failure, the lines.

The summary (:mod:`.summary`), Markdown (:mod:`.markdown`) and HTML (:mod:`.html_page`) renderers
and the compatibility table show only what is derived here (:func:`report_facts` gathers it once),
so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adagrad.conformance.features import FEATURES
from adagrad.conformance.reporting.model import FAILING, OUTCOMES, PATHS, Divergence, Report, Result, as_report

__all__ = [
    "STATUS_WORDS",
    "FailedFeature",
    "FeatureRow",
    "ReportFacts",
    "claimed_features",
    "diagnosis_summary",
    "failed_features",
    "failure_kinds",
    "failure_text",
    "feature_rows",
    "fmt_ulps",
    "header_lines",
    "message_excerpt",
    "occurred_divergences",
    "report_facts",
    "run_line",
    "smallest_failure",
    "unsupported_reasons",
    "xpassed_divergences",
]

#: The status of a feature (or of a feature on one path), worst first.
STATUS_WORDS = ("FAIL", "not verified", "not run", "partial", "unsupported", "ok", "not claimed", "excluded")


@dataclass
class FeatureRow:
    """One feature of a report: counts per outcome, status word, worst error, failing paths."""

    feature: str
    status: str
    counts: dict[str, int]
    worst_ulps: float | None
    failing_paths: list[str] = field(default_factory=list)
    #: status per path that has results (None: tests not specific to a path)
    paths: dict[str | None, str] = field(default_factory=dict)
    failures: list[Result] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Failed, crashed, timed-out and unexpectedly skipped tests together."""
        return sum(self.counts[o] for o in FAILING)


def claimed_features(report: Report | dict[str, Any]) -> list[str]:
    """Features the run had to verify: every known or reported feature, less excluded and not claimed."""
    rep = as_report(report)
    names = list(dict.fromkeys([*FEATURES, *(r.feature for r in rep.results)]))
    return [f for f in names if f not in rep.excluded and f not in rep.not_claimed]


def _status(results: list[Result], strict: bool, listed: str | None) -> str:
    counts = {o: sum(r.outcome == o for r in results) for o in OUTCOMES}
    if any(counts[o] for o in FAILING) or (strict and counts["xpassed"]):
        return "FAIL"
    if listed:
        return listed
    ran = counts["passed"] + counts["xfailed"] + counts["xpassed"]
    if counts["not-run"]:
        return "not verified" if ran or counts["unsupported"] else "not run"
    if ran:
        return "partial" if counts["unsupported"] else "ok"
    if counts["unsupported"]:
        return "unsupported"
    if counts["excluded"]:
        return "excluded"
    return "not claimed" if counts["not-claimed"] else "not run"


def feature_rows(report: Report | dict[str, Any]) -> list[FeatureRow]:
    """One row per feature, in :data:`FEATURES` order (then any other feature the results name)."""
    rep = as_report(report)
    by_feature: dict[str, list[Result]] = {f: [] for f in FEATURES}
    for r in rep.results:
        by_feature.setdefault(r.feature, []).append(r)
    rows = []
    for name, results in by_feature.items():
        listed = "excluded" if name in rep.excluded else ("not claimed" if name in rep.not_claimed else None)
        measured = [r.worst_ulps for r in results if r.outcome in ("passed", "failed") and r.worst_ulps is not None]
        failures = [r for r in results if r.outcome in FAILING or (rep.strict and r.outcome == "xpassed")]
        path_keys = [p for p in (None, *PATHS) if any(r.path == p for r in results)]
        rows.append(
            FeatureRow(
                feature=name,
                status=_status(results, rep.strict, listed),
                counts={o: sum(r.outcome == o for r in results) for o in OUTCOMES},
                worst_ulps=max(measured) if measured else None,
                failing_paths=[p for p in PATHS if any(r.path == p for r in failures)],
                paths={p: _status([r for r in results if r.path == p], rep.strict, listed) for p in path_keys},
                failures=failures,
            )
        )
    return rows


def smallest_failure(results: list[Result]) -> Result | None:
    """The failing result with the smallest case (elements x steps); ties by id; None if none failed.

    Results with the outcome ``failed`` come before crashes, timeouts, unexpected skips and (under
    ``--strict``) xpasses, and a result whose size is unknown after every sized one.
    """
    failing = [r for r in results if r.outcome in FAILING or r.outcome == "xpassed"]
    if not failing:
        return None
    return min(failing, key=lambda r: (r.outcome != "failed", r.case_size is None, r.case_size or 0, r.id))


def message_excerpt(message: str, max_lines: int = 40) -> str:
    """The assertion lines (``E ...``) of a pytest failure text, else its last lines; lines never cut."""
    lines = [
        line[4:] if line.startswith("E   ") else line[2:] for line in message.splitlines() if line.startswith("E ")
    ]
    if not lines:
        lines = message.strip().splitlines()[-12:]
    if len(lines) > max_lines:
        lines = [*lines[:max_lines], f"... ({len(lines) - max_lines} more lines in the JSON report)"]
    return "\n".join(lines)


def failure_text(result: Result) -> str:
    """What went wrong in one result: the failure statement first (whole), else the message's key lines."""
    if result.failure is not None:
        return result.failure.statement
    if result.outcome == "xpassed":
        return f"passed although divergence {result.divergence} expects it to fail (--strict)"
    return message_excerpt(result.message) or f"{result.outcome} (no message)"


def unsupported_reasons(report: Report | dict[str, Any]) -> list[str]:
    """What the implementation could not express, distinct: unclaimed features first, then reasons."""
    rep = as_report(report)
    reasons = [reason for r in rep.results for reason in r.unsupported]
    return [f"feature {f} is not claimed" for f in rep.not_claimed] + list(dict.fromkeys(reasons))


def occurred_divergences(report: Report | dict[str, Any]) -> list[Divergence]:
    """Known divergences that accepted at least one failure (xfailed) in this run."""
    return [d for d in as_report(report).divergences if d.used_by]


def xpassed_divergences(report: Report | dict[str, Any]) -> list[Divergence]:
    """Known divergences one of whose tests passed."""
    return [d for d in as_report(report).divergences if d.xpassed_by]


def header_lines(report: Report | dict[str, Any]) -> list[str]:
    """Target, adapter, profile, seed, environment and what was left out, one fact per line."""
    rep = as_report(report)
    env = rep.environment
    what = rep.description if rep.description.startswith(rep.target) else f"{rep.target} ({rep.description})"
    lines = [
        f"Target {what if rep.description else rep.target}",
        f"adapter {rep.adapter}, profile {rep.profile}, seed {rep.seed}" + (", strict" if rep.strict else ""),
        f"Python {env.python}, torch {env.torch or '-'}, pytest {env.pytest}, hypothesis {env.hypothesis}"
        + (f"; plugins {', '.join(env.plugins)}" if env.plugins else ""),
    ]
    left_out = [
        f"{label}: {', '.join(names)}"
        for label, names in (("excluded", rep.excluded), ("not claimed", rep.not_claimed))
        if names
    ]
    if left_out:
        lines.append("; ".join(left_out))
    return lines


def run_line(report: Report | dict[str, Any]) -> str:
    """How the run ended, its wall time and the number of timeouts."""
    run = as_report(report).run
    return (
        f"Run {run.status}"
        + (f": {run.reason}" if run.reason else "")
        + f" ({run.wall_seconds:.1f} s, {run.timeouts} timeout{'s' if run.timeouts != 1 else ''})"
    )


def diagnosis_summary(report: Report | dict[str, Any]) -> str | None:
    """The diagnosis' summary text, if the run has one."""
    diagnosis = as_report(report).diagnosis
    summary = diagnosis.get("summary") if isinstance(diagnosis, dict) else None
    return summary if isinstance(summary, str) and summary.strip() else None


def fmt_ulps(value: float | None) -> str:
    """An error in ulps for a table cell."""
    return "-" if value is None else f"{value:.3g}"


def failure_kinds(failures: list[Result]) -> str:
    """How a feature's failing results failed, e.g. ``2 failed, 1 crashed`` (xpassed under ``--strict``)."""
    return ", ".join(f"{n} {o}" for o in (*FAILING, "xpassed") if (n := sum(r.outcome == o for r in failures)))


@dataclass
class FailedFeature:
    """A feature with failing results: its row, the smallest failure shown first, how they failed, the others."""

    row: FeatureRow
    first: Result
    kinds: str
    others: list[Result]


def failed_features(rows: list[FeatureRow]) -> list[FailedFeature]:
    """The rows with failing results, in order, each with its smallest failure (:func:`smallest_failure`)."""
    failed = []
    for row in rows:
        if not row.failures:
            continue
        first = smallest_failure(row.failures)
        assert first is not None  # row.failures is not empty
        others = [r for r in row.failures if r is not first]
        failed.append(FailedFeature(row, first, failure_kinds(row.failures), others))
    return failed


@dataclass
class ReportFacts:
    """What every renderer shows of one report, derived once (:func:`report_facts`)."""

    report: Report
    rows: list[FeatureRow]
    failed: list[FailedFeature]
    header: list[str]
    run: str
    unsupported: list[str]
    occurred: list[Divergence]
    xpassed: list[Divergence]
    diagnosis: str | None


def report_facts(report: Report | dict[str, Any]) -> ReportFacts:
    """The report, its feature rows and failed features, header and run lines, unsupported reasons,
    divergences and diagnosis."""
    rep = as_report(report)
    rows = feature_rows(rep)
    return ReportFacts(
        report=rep,
        rows=rows,
        failed=failed_features(rows),
        header=header_lines(rep),
        run=run_line(rep),
        unsupported=unsupported_reasons(rep),
        occurred=occurred_divergences(rep),
        xpassed=xpassed_divergences(rep),
        diagnosis=diagnosis_summary(rep),
    )
