"""The self-contained HTML report (``check --html FILE``): the Markdown report's content plus
plots of the worst error against step, per feature and dtype, embedded as base64 PNGs.

The per-step errors come from :func:`~.harness.check_case` through the plugin (``step_ulps`` in
each result of the JSON report). Plots need matplotlib (the ``plots`` extra).
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections import defaultdict
from typing import Any

from .report import failure_excerpt, unsupported_reasons, verdict
from .report_markdown import feature_rows

__all__ = ["plot_series", "render_html"]

_STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,td:nth-child(2){text-align:left}.FAIL{color:#b00;font-weight:bold}.ok{color:#070}
pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:85%}figure{display:inline-block;margin:6px}"""


def plot_series(report: dict[str, Any]) -> dict[tuple[str, str], list[tuple[list[float | None], bool]]]:
    """Per (feature, dtype): each recorded series of per-step worst errors, and whether its test failed."""
    out: dict[tuple[str, str], list[tuple[list[float | None], bool]]] = defaultdict(list)
    for r in report["results"]:
        for s in r.get("step_ulps") or []:
            out[(r["feature"], s["dtype"])].append((s["errors"], r["outcome"] == "failed"))
    return dict(sorted(out.items()))


def _png(feature: str, dtype: str, series: list[tuple[list[float | None], bool]]) -> str:
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 2.8), dpi=90)
    top = 1.0
    for errors, failed in series:
        finite = [e for e in errors if e is not None]
        top = max([top, *finite])
    for errors, failed in series:
        # a non-finite error (NaN where a number was due) is drawn at the top, marked x
        ys = [top * 10 if e is None else max(e, 1e-3) for e in errors]
        ax.plot(range(1, len(ys) + 1), ys, color="#c00" if failed else "#36c", alpha=0.9 if failed else 0.35,
                marker="x" if None in errors else ".", markersize=3, linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("worst error (ulps)")
    ax.set_title(f"{feature}, {dtype}", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def render_html(report: dict[str, Any]) -> str:
    """The whole report as one HTML page with embedded plots (raises ImportError without matplotlib)."""
    import matplotlib  # noqa: F401  - fail early and clearly when the extra is missing

    esc = html.escape
    ok = verdict(report) == 0
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Adagrad conformance: {esc(report['target'])}</title>",
             f"<style>{_STYLE}</style></head><body>",
             f"<h1>Adagrad conformance: <code>{esc(report['target'])}</code></h1>",
             f"<p class='{'ok' if ok else 'FAIL'}' id='verdict'>Verdict: {'CONFORMANT' if ok else 'NON-CONFORMANT'}</p>",
             f"<p>profile {esc(report['profile'])}, adapter {esc(report.get('adapter', 'torch'))}</p>"]
    if report.get("smoke"):
        parts.append(f"<p class='FAIL'>Smoke probe: the target {esc(report['smoke'])}</p>")
    parts.append("<table><tr><th>feature</th><th>status</th><th>passed</th><th>failed</th><th>unsupported</th>"
                 "<th>excluded</th><th>accepted</th><th>worst ulps</th></tr>")
    for name, status, row in feature_rows(report):
        ulps = "-" if row["worst_ulps"] is None else f"{row['worst_ulps']:.3g}"
        parts.append(f"<tr><td>{esc(name)}</td><td class='{esc(status)}'>{esc(status)}</td><td>{row['passed']}</td>"
                     f"<td>{row['failed']}</td><td>{row['unsupported']}</td><td>{row['excluded']}</td><td>{row['xfailed']}</td><td>{ulps}</td></tr>")
    parts.append("</table>")
    series = plot_series(report)
    parts.append("<h2>Error against step</h2>")
    if series:
        parts.append("<p>Worst error over all elements after each step, in ulps of the dtype, one line per drawn case "
                     "(red: the test failed; a non-finite mismatch is drawn above the rest).</p>")
        for (feature, dtype), s in series.items():
            if all(e is None or math.isfinite(e) for errs, _ in s for e in errs):
                parts.append(f"<figure class='plot' data-feature='{esc(feature)}' data-dtype='{esc(dtype)}'>"
                             f"<img alt='error against step: {esc(feature)} {esc(dtype)}' src='data:image/png;base64,{_png(feature, dtype, s)}'>"
                             "</figure>")
    else:
        parts.append("<p>No per-step errors were recorded.</p>")
    failed = [r for r in report["results"] if r["outcome"] == "failed"]
    if failed:
        parts.append("<h2>Failures</h2>")
        seen = set()
        for r in failed:
            if r["feature"] in seen:
                continue
            seen.add(r["feature"])
            n = sum(1 for x in failed if x["feature"] == r["feature"])
            parts.append(f"<h3>{esc(r['feature'])} ({n} tests)</h3><p><code>{esc(r['id'])}</code></p>"
                         f"<pre>{esc(failure_excerpt(r['message']))}</pre>")
    reasons = unsupported_reasons(report)
    if reasons:
        parts.append("<h2>Unsupported by the implementation</h2><ul>" + "".join(f"<li>{esc(x)}</li>" for x in reasons) + "</ul>")
    accepted = [d for d in report.get("known_divergences", []) if d["used_by"]]
    if accepted:
        parts.append("<h2>Known divergences accepted</h2><ul>"
                     + "".join(f"<li><code>{esc(d['pattern'])}</code>: {esc(d['reason'])}</li>" for d in accepted) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
