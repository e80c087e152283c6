"""The Markdown report of a check (``check --markdown FILE``): verdict, feature table, failures."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .report import feature_status, feature_table, failure_excerpt, unsupported_reasons, verdict

__all__ = ["feature_rows", "render_markdown"]


def feature_rows(report: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(feature, status word, counts) in FEATURES order, as every report format shows them."""
    excluded = set(report.get("excluded", []))
    hang = report.get("smoke", "").startswith("hangs")
    rows = []
    for name, row in feature_table(report).items():
        status = feature_status(row, name in excluded)
        if hang and status not in ("excluded", "unsupported"):
            status = "FAIL"
        rows.append((name, status, row))
    return rows


def _failures(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    by_feature: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in report["results"]:
        if r["outcome"] == "failed":
            by_feature[r["feature"]].append(r)
    return by_feature


def render_markdown(report: dict[str, Any]) -> str:
    """The whole report as Markdown."""
    ok = verdict(report) == 0
    out = [f"# Adagrad conformance: `{report['target']}`", "",
           f"**Verdict: {'CONFORMANT' if ok else 'NON-CONFORMANT'}** (profile {report['profile']}, "
           f"adapter {report.get('adapter', 'torch')})", ""]
    if report.get("smoke"):
        out += [f"Smoke probe: the target {report['smoke']}.", ""]
    out += ["| feature | status | passed | failed | unsupported | excluded | accepted | worst ulps |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, status, row in feature_rows(report):
        ulps = "-" if row["worst_ulps"] is None else f"{row['worst_ulps']:.3g}"
        shown = f"**{status}**" if status == "FAIL" else status
        out.append(f"| {name} | {shown} | {row['passed']} | {row['failed']} | {row['unsupported']} | {row['excluded']} | {row['xfailed']} | {ulps} |")
    for name, failed in _failures(report).items():
        first = min(failed, key=lambda r: len(r["message"]) or 10**9)
        out += ["", f"## Failed: {name} ({len(failed)} tests)", "",
                ", ".join(f"`{r['id']}`" for r in failed[:8]) + (f" and {len(failed) - 8} more" if len(failed) > 8 else ""),
                "", f"Smallest failing case (`{first['id']}`):", "", "```", failure_excerpt(first["message"]), "```"]
    reasons = unsupported_reasons(report)
    if reasons:
        out += ["", "## Unsupported by the implementation", ""] + [f"- {r}" for r in reasons]
    accepted = [d for d in report.get("known_divergences", []) if d["used_by"]]
    if accepted:
        out += ["", "## Known divergences accepted", ""] + [f"- `{d['pattern']}`: {d['reason']}" for d in accepted]
    stale = report.get("stale_divergences", [])
    if stale:
        out += ["", "## Stale known-divergence entries (match no test)", ""] + [f"- `{p}`" for p in stale]
    return "\n".join(out) + "\n"
