"""The Markdown report of a check (``check --markdown FILE``), rendered from :mod:`.report`'s facts."""

from __future__ import annotations

from typing import Any

from adagrad.conformance.reporting.model import FAILING, as_report
from adagrad.conformance.reporting.summary import (
    Report,
    diagnosis_summary,
    failure_text,
    feature_rows,
    fmt_ulps,
    header_lines,
    occurred_divergences,
    run_line,
    smallest_failure,
    unsupported_reasons,
    verdict_line,
    xpassed_divergences,
)

__all__ = ["render_markdown"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report | dict[str, Any]) -> str:
    """The whole report as Markdown: verdict, configuration, feature table, failures, divergences."""
    rep = as_report(report)
    rows = feature_rows(rep)
    out = [f"# Adagrad conformance: `{rep.target}`", "", f"**{verdict_line(rep)}**", ""]
    out += [f"- {_cell(line)}" for line in header_lines(rep)] + [f"- {run_line(rep)}", ""]
    out += [
        "| feature | status | passed | failed | accepted | xpassed | unsupported | not run | worst ulps "
        "| failing paths |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        c = row.counts
        status = f"**{row.status}**" if row.status == "FAIL" else row.status
        out.append(
            f"| {row.feature} | {status} | {c['passed']} | {row.failed} | {c['xfailed']} | {c['xpassed']} | "
            f"{c['unsupported']} | {c['not-run']} | {fmt_ulps(row.worst_ulps)} | {', '.join(row.failing_paths)} |"
        )
    for row in rows:
        if not row.failures:
            continue
        first = smallest_failure(row.failures)
        assert first is not None
        kinds = ", ".join(f"{n} {o}" for o in (*FAILING, "xpassed") if (n := sum(r.outcome == o for r in row.failures)))
        out += [
            "",
            f"## Failed: {row.feature} ({kinds})",
            "",
            f"Smallest failing case: `{first.id}` ({first.outcome}"
            + (f", case size {first.case_size}" if first.case_size is not None else "")
            + ")",
            "",
            "```text",
            failure_text(first),
            "```",
        ]
        if first.failure is not None and first.failure.snippet:
            out += ["", "Reproduce with:", "", "```python", first.failure.snippet.rstrip(), "```"]
        others = [r.id for r in row.failures if r is not first]
        if others:
            out += [
                "",
                "Also: "
                + ", ".join(f"`{i}`" for i in others[:8])
                + (f" and {len(others) - 8} more" if len(others) > 8 else ""),
            ]
    reasons = unsupported_reasons(rep)
    if reasons:
        out += ["", "## Unsupported by the implementation (not failures)", "", *(f"- {r}" for r in reasons)]
    occurred = occurred_divergences(rep)
    if occurred:
        out += ["", "## Known divergences that occurred (accepted)", ""]
        out += [f"- **{d.id}** ({len(d.used_by)} tests): {d.reason}" for d in occurred]
    xpassed = xpassed_divergences(rep)
    if xpassed:
        out += ["", "## Known divergences that did not occur" + (" (fail the run: --strict)" if rep.strict else ""), ""]
        out += [f"- **{d.id}**: passed in " + ", ".join(f"`{t}`" for t in d.xpassed_by) for d in xpassed]
    if rep.stale_divergences:
        out += [
            "",
            "## Stale divergence entries (match no collected test)",
            "",
            *(f"- `{d}`" for d in rep.stale_divergences),
        ]
    if rep.problems:
        out += ["", "## Infrastructure problems (not the target's fault)", "", *(f"- {p}" for p in rep.problems)]
    summary = diagnosis_summary(rep)
    if summary:
        out += ["", "## Diagnosis", "", summary.rstrip()]
    return "\n".join(out) + "\n"
