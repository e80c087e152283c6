"""The Markdown report of a check (``check --markdown FILE``), rendered from :mod:`.facts`."""

from __future__ import annotations

from typing import Any

from adagrad.conformance.reporting.facts import failure_text, fmt_ulps, report_facts
from adagrad.conformance.reporting.model import Report
from adagrad.conformance.reporting.summary import verdict_line

__all__ = ["render_markdown"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report | dict[str, Any]) -> str:
    """The whole report as Markdown: verdict, configuration, feature table, failures, divergences."""
    facts = report_facts(report)
    rep, rows = facts.report, facts.rows
    out = [f"# Adagrad conformance: `{rep.target}`", "", f"**{verdict_line(rep)}**", ""]
    out += [f"- {_cell(line)}" for line in facts.header] + [f"- {facts.run}", ""]
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
    for failed in facts.failed:
        row, first = failed.row, failed.first
        out += [
            "",
            f"## Failed: {row.feature} ({failed.kinds})",
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
        others = [r.id for r in failed.others]
        if others:
            out += [
                "",
                "Also: "
                + ", ".join(f"`{i}`" for i in others[:8])
                + (f" and {len(others) - 8} more" if len(others) > 8 else ""),
            ]
    if facts.unsupported:
        out += ["", "## Unsupported by the implementation (not failures)", "", *(f"- {r}" for r in facts.unsupported)]
    occurred = facts.occurred
    if occurred:
        out += ["", "## Known divergences that occurred (accepted)", ""]
        out += [f"- **{d.id}** ({len(d.used_by)} tests): {d.reason}" for d in occurred]
    xpassed = facts.xpassed
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
    if facts.diagnosis:
        out += ["", "## Diagnosis", "", facts.diagnosis.rstrip()]
    return "\n".join(out) + "\n"
