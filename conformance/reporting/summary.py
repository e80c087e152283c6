"""What a report means: the verdict, one row per feature, the smallest failure, and the CLI's summary.

The runner builds one report (``report_model.Report``, schema_version 2); every renderer (this
module's :func:`render_summary`, ``report_markdown``, ``report_html``, ``compat``) shows only the
facts derived here, so they cannot disagree.

Verdict (word, exit status), in this order:

1. any test failed, crashed, timed out or was skipped unexpectedly, or an xpassed divergence
   under ``--strict``: ``non-conformant`` (1);
2. the run was interrupted: ``interrupted`` (130; the runner uses 143 for SIGTERM);
3. a claimed feature has a test that did not run (or ran no test at all), the run did not
   complete, or there was an infrastructure problem: ``not-verified`` (3);
4. otherwise ``conformant`` (0).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

from adagrad.conformance.features import FEATURES
from adagrad.conformance.reporting.model import (
    FAILING,
    OUTCOMES,
    PATHS,
    Divergence,
    Report,
    Result,
    as_report,
    dumps,
    validate,
)

__all__ = [
    "EXIT_STATUS",
    "OUTCOMES",
    "STATUS_WORDS",
    "FeatureRow",
    "Report",
    "claimed_features",
    "dumps",
    "failure_text",
    "feature_rows",
    "message_excerpt",
    "render_summary",
    "smallest_failure",
    "unsupported_reasons",
    "validate",
    "verdict",
    "verdict_line",
]

#: Exit status of each verdict word.
EXIT_STATUS = {"conformant": 0, "non-conformant": 1, "not-verified": 3, "interrupted": 130}
#: The status of a feature (or of a feature on one path), worst first.
STATUS_WORDS = ("FAIL", "not verified", "not run", "partial", "unsupported", "ok", "not claimed", "excluded")
#: A pre-0.2 name the plugin still imports; no result uses it any more.
CRASHED = "(crashed)"


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


def verdict(report: Report | dict[str, Any]) -> tuple[str, int]:
    """The verdict word and exit status (see the module docstring for the rules)."""
    rep = as_report(report)
    outcomes = {r.outcome for r in rep.results}
    if outcomes & set(FAILING) or (rep.strict and "xpassed" in outcomes):
        return "non-conformant", EXIT_STATUS["non-conformant"]
    if rep.run.status == "interrupted":
        return "interrupted", EXIT_STATUS["interrupted"]
    if _not_verified_because(rep):
        return "not-verified", EXIT_STATUS["not-verified"]
    return "conformant", EXIT_STATUS["conformant"]


def _not_verified_because(rep: Report) -> list[str]:
    claimed = claimed_features(rep)
    not_run = [r for r in rep.results if r.outcome == "not-run" and r.feature in claimed]
    why = []
    if not_run:
        planned = sum(r.feature in claimed for r in rep.results)
        features = list(dict.fromkeys(r.feature for r in not_run))
        why.append(f"{len(not_run)} of {planned} tests not run, in {', '.join(features)}")
    no_results = [f for f in claimed if not any(r.feature == f for r in rep.results)]
    if no_results:
        why.append(f"no test of {', '.join(no_results)}")
    # a claimed feature whose planned tests were all refused (unsupported) verified nothing
    none_ran = [
        f
        for f in claimed
        if f not in no_results
        and any(r.feature == f and r.outcome not in ("excluded", "not-claimed") for r in rep.results)
        and not any(r.feature == f and r.outcome in ("passed", "xfailed", "xpassed") for r in rep.results)
    ]
    if none_ran:
        why.append(f"no test of {', '.join(none_ran)} ran (all unsupported or not run)")
    if rep.run.status != "complete":
        why.append(f"run {rep.run.status}" + (f": {rep.run.reason}" if rep.run.reason else ""))
    if rep.problems:
        why.append(f"{len(rep.problems)} infrastructure problem{'s' if len(rep.problems) > 1 else ''}")
    return why


def verdict_line(report: Report | dict[str, Any]) -> str:
    """``Verdict: CONFORMANT`` / ``NON-CONFORMANT (failed: a, b)`` / ``NOT VERIFIED (...)`` / ``INTERRUPTED``."""
    rep = as_report(report)
    word, _ = verdict(rep)
    if word == "non-conformant":
        failed = [row.feature for row in feature_rows(rep) if row.failures]
        return f"Verdict: NON-CONFORMANT (failed: {', '.join(failed)})"
    if word == "not-verified":
        return f"Verdict: NOT VERIFIED ({'; '.join(_not_verified_because(rep))})"
    if word == "interrupted":
        return "Verdict: INTERRUPTED" + (f" ({rep.run.reason})" if rep.run.reason else "")
    return "Verdict: CONFORMANT"


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


def render_summary(report: Report | dict[str, Any]) -> str:
    """The end-of-run text of ``check``: header, feature table, failures, divergences, run, verdict."""
    rep = as_report(report)
    rows = feature_rows(rep)
    out = ["", *header_lines(rep), ""]
    head = (
        f"{'feature':20} {'status':12} {'passed':>6} {'failed':>6} {'accepted':>8} {'xpassed':>7} "
        f"{'unsupp.':>7} {'not run':>7} {'worst ulps':>10}  failing paths"
    )
    out += [head, "-" * len(head)]
    for row in rows:
        c = row.counts
        out.append(
            f"{row.feature:20} {row.status:12} {c['passed']:>6} {row.failed:>6} {c['xfailed']:>8} "
            f"{c['xpassed']:>7} {c['unsupported']:>7} {c['not-run']:>7} {fmt_ulps(row.worst_ulps):>10}  "
            f"{', '.join(row.failing_paths)}".rstrip()
        )
    for row in rows:
        if not row.failures:
            continue
        kinds = ", ".join(f"{n} {o}" for o in (*FAILING, "xpassed") if (n := sum(r.outcome == o for r in row.failures)))
        out += [
            "",
            f"FAILED feature {row.feature}: {len(row.failures)} test(s) ({kinds})"
            + (f" on path {', '.join(row.failing_paths)}" if row.failing_paths else ""),
        ]
        first = smallest_failure(row.failures)
        assert first is not None  # row.failures is not empty
        size = f", case size {first.case_size}" if first.case_size is not None else ""
        out.append(f"Smallest failing case: {first.id} ({first.outcome}{size})")
        out.append(textwrap.indent(failure_text(first), "    "))
        if first.failure is not None and first.failure.snippet:
            out += ["  Reproduce with:", textwrap.indent(first.failure.snippet.rstrip(), "    ")]
        others = [r.id for r in row.failures if r is not first]
        if others:
            out.append(
                "  Also: " + ", ".join(others[:4]) + (f", and {len(others) - 4} more" if len(others) > 4 else "")
            )
    reasons = unsupported_reasons(rep)
    if reasons:
        out += ["", "Unsupported by the implementation (not failures):", *(f"  {r}" for r in reasons)]
    occurred = occurred_divergences(rep)
    if occurred:
        out += ["", "Known divergences that occurred (accepted):"]
        out += [f"  {d.id} ({len(d.used_by)} test{'s' if len(d.used_by) > 1 else ''}): {d.reason}" for d in occurred]
    for d in xpassed_divergences(rep):
        out.append(
            f"{'error' if rep.strict else 'note'}: divergence {d.id} did not occur in "
            f"{len(d.xpassed_by)} of its tests (they passed): {', '.join(d.xpassed_by[:3])}"
        )
    out += [f"warning: divergence entry {d} matches no collected test" for d in rep.stale_divergences]
    if rep.problems:
        out += ["", "Infrastructure problems (not the target's fault):", *(f"  {p}" for p in rep.problems)]
    summary = diagnosis_summary(rep)
    if summary:
        out += ["", "Diagnosis:", textwrap.indent(summary.rstrip(), "  ")]
    out += ["", run_line(rep), verdict_line(rep)]
    return "\n".join(out)
