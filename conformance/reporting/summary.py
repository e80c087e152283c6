"""What a report means: the verdict (word and exit status), and the CLI's end-of-run summary.

The runner builds one report (:class:`~.model.Report`, schema_version 2); every renderer (this
module's :func:`render_summary`, :mod:`.markdown`, :mod:`.html_page`, ``tools/compat.py``) shows
only the facts of :mod:`.facts` and the verdict decided here, so they cannot disagree. The names
of :mod:`.facts`, :mod:`.model` and :mod:`.schema` in ``__all__`` are importable from here too.

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
from typing import Any

from adagrad.conformance.reporting.facts import (
    STATUS_WORDS,
    FeatureRow,
    claimed_features,
    failure_text,
    feature_rows,
    fmt_ulps,
    message_excerpt,
    report_facts,
    smallest_failure,
    unsupported_reasons,
)
from adagrad.conformance.reporting.model import FAILING, OUTCOMES, Report, as_report, dumps
from adagrad.conformance.reporting.schema import validate

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
        why.append(
            f"no test of {', '.join(none_ran)} ran (all unsupported or not run; a target that does not "
            f"offer {'them' if len(none_ran) > 1 else 'it'} says so: --claims not_claimed={','.join(none_ran)})"
        )
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


def render_summary(report: Report | dict[str, Any]) -> str:
    """The end-of-run text of ``check``: header, feature table, failures, divergences, run, verdict."""
    facts = report_facts(report)
    rep, rows = facts.report, facts.rows
    out = ["", *facts.header, ""]
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
    for failed in facts.failed:
        row, first = failed.row, failed.first
        out += [
            "",
            f"FAILED feature {row.feature}: {len(row.failures)} test(s) ({failed.kinds})"
            + (f" on path {', '.join(row.failing_paths)}" if row.failing_paths else ""),
        ]
        size = f", case size {first.case_size}" if first.case_size is not None else ""
        out.append(f"Smallest failing case: {first.id} ({first.outcome}{size})")
        out.append(textwrap.indent(failure_text(first), "    "))
        if first.failure is not None and first.failure.snippet:
            out += ["  Reproduce with:", textwrap.indent(first.failure.snippet.rstrip(), "    ")]
        others = [r.id for r in failed.others]
        if others:
            out.append(
                "  Also: " + ", ".join(others[:4]) + (f", and {len(others) - 4} more" if len(others) > 4 else "")
            )
    if facts.unsupported:
        out += ["", "Unsupported by the implementation (not failures):", *(f"  {r}" for r in facts.unsupported)]
    occurred = facts.occurred
    if occurred:
        out += ["", "Known divergences that occurred (accepted):"]
        out += [f"  {d.id} ({len(d.used_by)} test{'s' if len(d.used_by) > 1 else ''}): {d.reason}" for d in occurred]
    for d in facts.xpassed:
        out.append(
            f"{'error' if rep.strict else 'note'}: divergence {d.id} did not occur in "
            f"{len(d.xpassed_by)} of its tests (they passed): {', '.join(d.xpassed_by[:3])}"
        )
    out += [f"warning: divergence entry {d} matches no collected test" for d in rep.stale_divergences]
    if rep.problems:
        out += ["", "Infrastructure problems (not the target's fault):", *(f"  {p}" for p in rep.problems)]
    if facts.diagnosis:
        out += ["", "Diagnosis:", textwrap.indent(facts.diagnosis.rstrip(), "  ")]
    out += ["", facts.run, verdict_line(rep)]
    return "\n".join(out)
