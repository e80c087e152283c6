"""Verdict and human-readable summary of a conformance report (the JSON the plugin writes)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .features import FEATURES

__all__ = ["feature_status", "feature_table", "failure_excerpt", "render_summary", "verdict"]

OUTCOMES = ("passed", "failed", "excluded", "xfailed", "xpassed", "unsupported")
#: Row name for failures pytest-xdist reports without the test's markers (a crashed worker).
CRASHED = "(crashed)"


def verdict(report: dict[str, Any]) -> int:
    """0 conformant (tests ran, none failed), 1 otherwise (a smoke probe that hung or crashed too)."""
    if report.get("smoke"):
        return 1
    results = report["results"]
    ran = [r for r in results if r["outcome"] not in ("excluded", "unsupported")]
    return 0 if ran and not any(r["outcome"] == "failed" for r in results) else 1


def feature_table(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per feature: counts per outcome and the worst error in ulps."""
    rows: dict[str, dict[str, Any]] = {f: {**{o: 0 for o in OUTCOMES}, "worst_ulps": None} for f in FEATURES}
    for r in report["results"]:
        row = rows.setdefault(r["feature"], {**{o: 0 for o in OUTCOMES}, "worst_ulps": None})
        row[r["outcome"]] += 1
        if r["worst_ulps"] is not None and r["outcome"] in ("passed", "failed"):  # not accepted divergences
            row["worst_ulps"] = max(row["worst_ulps"] or 0.0, r["worst_ulps"])
    for key in ("excluded", "unsupported"):
        for name in report.get(key, []):
            if not any(rows[name][o] for o in OUTCOMES):
                rows[name][key] = 1
    return rows


def feature_status(row: dict[str, Any], excluded: bool = False) -> str:
    """One word per feature: FAIL, ok, partial (some tests unsupported), unsupported, excluded, not run."""
    if row["failed"]:
        return "FAIL"
    if excluded:
        return "excluded"
    if row["passed"] or row["xfailed"] or row["xpassed"]:
        return "partial" if row["unsupported"] else "ok"
    if row["unsupported"]:
        return "unsupported"
    return "excluded" if row["excluded"] else "not run"


def failure_excerpt(message: str, max_lines: int = 60) -> str:
    """The assertion text (``E`` lines) of a pytest failure: message, falsifying example, snippet."""
    lines = [line[4:] if line.startswith("E   ") else line[2:] for line in message.splitlines() if line.startswith("E ")]
    if not lines:
        lines = message.strip().splitlines()[-12:]
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"... ({len(lines) - max_lines} more lines in the JSON report)"]
    return "\n".join(lines)


def render_summary(report: dict[str, Any]) -> str:
    """The end-of-run text: a table per feature, failures with their smallest case, divergences."""
    out = [f"\nTarget {report['target']} (profile {report['profile']})"]
    if report.get("smoke"):
        out.append(f"Smoke probe: the target {report['smoke']}")
    rows = feature_table(report)
    excluded = set(report.get("excluded", []))
    hang = report.get("smoke", "").startswith("hangs")
    header = f"{'feature':20} {'status':11} {'passed':>6} {'failed':>6} {'excluded':>8} {'unsupp.':>7} {'accepted':>8} {'worst ulps':>11}"
    out += [header, "-" * len(header)]
    for name, row in rows.items():
        status = "FAIL" if hang and name not in excluded and name not in report.get("unsupported", []) else feature_status(row, name in excluded)
        ulps = "-" if row["worst_ulps"] is None else f"{row['worst_ulps']:.3g}"
        out.append(f"{name:20} {status:11} {row['passed']:>6} {row['failed']:>6} {row['excluded']:>8} {row['unsupported']:>7} {row['xfailed']:>8} {ulps:>11}")
    by_feature: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in report["results"]:
        if r["outcome"] == "failed":
            by_feature[r["feature"]].append(r)
    for name, failed in by_feature.items():
        first = min(failed, key=lambda r: len(r["message"]) or 10**9)
        ids = ", ".join(r["id"] for r in failed[:4]) + (f", and {len(failed) - 4} more" if len(failed) > 4 else "")
        out.append(f"\nFAILED feature {name}: {len(failed)} test(s): {ids}")
        out.append(f"Smallest failing case ({first['id']}):")
        out.append(failure_excerpt(first["message"]))
    reasons = unsupported_reasons(report)
    if reasons:
        out.append("\nUnsupported by the implementation (not failures):")
        out += [f"  {r}" for r in reasons]
    accepted = [d for d in report.get("known_divergences", []) if d["used_by"]]
    if accepted:
        out.append("\nKnown divergences accepted:")
        for d in accepted:
            out.append(f"  {d['pattern']}: {d['reason']}")
    for pattern in report.get("stale_divergences", []):
        out.append(f"warning: known-divergence entry {pattern!r} matches no test")
    verdict_text = "CONFORMANT" if verdict(report) == 0 else "NON-CONFORMANT"
    failed_features = sorted(by_feature) or (["all (target hangs)"] if hang else [])
    out.append(f"\nVerdict: {verdict_text}" + (f" (failed: {', '.join(failed_features)})" if failed_features else ""))
    return "\n".join(out)


def unsupported_reasons(report: dict[str, Any]) -> list[str]:
    """What the implementation could not express, distinct, features it does not claim first."""
    claimed_not = [f"feature {f} is not claimed" for f in report.get("unsupported", [])]
    seen = [reason for r in report["results"] for reason in r.get("unsupported", []) if "is not claimed by" not in reason]
    return claimed_not + list(dict.fromkeys(seen))
