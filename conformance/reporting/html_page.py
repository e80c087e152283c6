"""The self-contained HTML report (``check --html FILE``), rendered from :mod:`.facts`.

One file, no network: a verdict banner, the feature x path grid coloured by status, the smallest
failing case of each failing feature (wrapped, with a copyable reproduce snippet), plots of error
against step per feature and dtype and of the golden cases (:mod:`.plots`, base64 PNGs), the
divergences, problems and diagnosis. Needs matplotlib (the ``plots`` extra): call
:func:`require_matplotlib` before the run so a missing extra fails at once.
"""

from __future__ import annotations

import html
from typing import Any

from adagrad.conformance.reporting.facts import (
    STATUS_WORDS,
    FailedFeature,
    FeatureRow,
    ReportFacts,
    failure_text,
    fmt_ulps,
    report_facts,
)
from adagrad.conformance.reporting.model import FAILING, PATHS, Report
from adagrad.conformance.reporting.plots import (
    draw_golden,
    draw_steps,
    golden_cases,
    plot_specs,
    png_base64,
    require_matplotlib,
)
from adagrad.conformance.reporting.summary import verdict, verdict_line

__all__ = ["render_html", "require_matplotlib"]

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1180px;
  margin:0 auto;padding:0 16px 40px;color:#1f2328}
h1{font-size:20px;margin:18px 0 4px}
h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:90%}
.banner{border-radius:8px;padding:14px 18px;margin:16px 0;color:#fff}
.banner .word{font-size:26px;font-weight:700;letter-spacing:.5px}
.banner .detail{margin-top:4px;overflow-wrap:anywhere}
.v-conformant{background:#1a7f37}
.v-non-conformant{background:#cf222e}
.v-not-verified{background:#9a6700}
.v-interrupted{background:#57606a}
ul.config{list-style:none;padding:0;margin:0;color:#57606a}
table{border-collapse:collapse;margin:6px 0}
td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:right}
th{background:#f6f8fa;text-align:center}
td.name,th.name{text-align:left}
td.st{text-align:center;font-weight:600}
.s-FAIL{background:#ffebe9;color:#a40e26}
.s-ok{background:#dafbe1;color:#116329}
.s-partial{background:#fff8c5;color:#7d4e00}
.s-unsupported{background:#eaeef2;color:#424a53}
.s-not-claimed,.s-excluded{background:#f6f8fa;color:#8c959f;font-weight:400}
.s-not-verified,.s-not-run{background:#ffe7cc;color:#953800}
td.none{background:#fff;color:#d0d7de;text-align:center}
td.zero{color:#afb8c1}
th.path{border-left:2px solid #8c959f}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:8px 10px;margin:6px 0;font-size:12.5px}
pre.failure{white-space:pre-wrap;overflow-wrap:anywhere;border-left:4px solid #cf222e}
pre.snippet{overflow-x:auto}
.snippet-box{position:relative}
button.copy{position:absolute;top:6px;right:6px;font-size:12px;
  padding:2px 10px;cursor:pointer;border:1px solid #d0d7de;border-radius:4px;background:#fff}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:10px}
figure{margin:0;border:1px solid #d0d7de;border-radius:6px;padding:4px;background:#fff}
figure img{width:100%;height:auto;display:block}
figure.wide{grid-column:1/-1}
figcaption{font-size:12px;color:#57606a;padding:2px 4px}
.diagnosis{background:#ddf4ff;border:1px solid #54aeff;border-radius:6px;padding:8px 12px;white-space:pre-wrap}
.muted{color:#57606a}
details{margin:4px 0}
li{overflow-wrap:anywhere}
"""

_SCRIPT = """
document.addEventListener('click', function (event) {
  var button = event.target.closest('button.copy');
  if (!button) return;
  var pre = document.getElementById(button.getAttribute('data-for'));
  function done(ok) {
    button.textContent = ok ? 'Copied' : 'Select and copy';
    setTimeout(function () { button.textContent = 'Copy'; }, 1500);
  }
  function selectAndCopy() {
    var range = document.createRange();
    range.selectNodeContents(pre);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    var ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    done(ok);
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(pre.textContent).then(function () { done(true); }, selectAndCopy);
  } else {
    selectAndCopy();
  }
});
"""

_esc = html.escape


def _status_class(status: str) -> str:
    return "s-" + status.replace(" ", "-")


def _grid(rows: list[FeatureRow]) -> list[str]:
    paths = [p for p in (None, *PATHS) if any(p in row.paths for row in rows)]
    out = [
        "<table id='features'><tr><th class='name'>feature</th><th>status</th><th>passed</th><th>failed</th>"
        "<th>accepted</th><th>xpassed</th><th>unsupported</th><th>not run</th><th>worst ulps</th>"
        + "".join(f"<th class='path'>{_esc(p or 'default path')}</th>" for p in paths)
        + "</tr>"
    ]
    for row in rows:
        c = row.counts
        cells = [
            f"<td class='name'>{_esc(row.feature)}</td>",
            f"<td class='st {_status_class(row.status)}'>{_esc(row.status)}</td>",
            *(
                f"<td{' class=zero' if not n else ''}>{n}</td>"
                for n in (c["passed"], row.failed, c["xfailed"], c["xpassed"], c["unsupported"], c["not-run"])
            ),
            f"<td>{fmt_ulps(row.worst_ulps)}</td>",
        ]
        for p in paths:
            st = row.paths.get(p)
            cells.append(
                f"<td class='st {_status_class(st)}' data-path='{_esc(p or 'default')}'>{_esc(st)}</td>"
                if st
                else "<td class='none'>&middot;</td>"
            )
        out.append(f"<tr data-feature='{_esc(row.feature)}'>" + "".join(cells) + "</tr>")
    out.append("</table>")
    legend = " ".join(
        f"<span class='st {_status_class(s)}' style='padding:0 6px'>{_esc(s)}</span>" for s in STATUS_WORDS
    )
    out.append(
        f"<p class='muted'>Status per feature and, right, per path the tests ran on "
        f"(default path: tests not specific to one). {legend}</p>"
    )
    return out


def _failures(failed_features: list[FailedFeature]) -> list[str]:
    out: list[str] = []
    n = 0
    for failed in failed_features:
        row, first = failed.row, failed.first
        size = f", case size {first.case_size}" if first.case_size is not None else ""
        out += [
            f"<section class='failed-feature' data-feature='{_esc(row.feature)}'>",
            f"<h3>{_esc(row.feature)}: {failed.kinds}"
            + (f" on path {_esc(', '.join(row.failing_paths))}" if row.failing_paths else "")
            + "</h3>",
            f"<p>Smallest failing case: <code>{_esc(first.id)}</code> ({_esc(first.outcome)}{size})</p>",
            f"<pre class='failure'>{_esc(failure_text(first))}</pre>",
        ]
        if first.failure is not None and first.failure.snippet:
            n += 1
            out += [
                "<p>Reproduce with:</p><div class='snippet-box'>",
                f"<button class='copy' type='button' data-for='snippet-{n}'>Copy</button>",
                f"<pre class='snippet' id='snippet-{n}'>{_esc(first.failure.snippet.rstrip())}</pre></div>",
            ]
        others = failed.others
        if others:
            out.append(
                f"<details><summary>{len(others)} other failing test(s)</summary><ul>"
                + "".join(
                    f"<li><code>{_esc(r.id)}</code> ({_esc(r.outcome)}): {_esc(failure_text(r).splitlines()[0])}</li>"
                    for r in others
                )
                + "</ul></details>"
            )
        out.append("</section>")
    return ["<h2>Failures</h2>", *out] if out else []


def _plots(rep: Report) -> list[str]:
    out = [
        "<h2>Error against step</h2>",
        "<p class='muted'>Worst error over all elements after each step, in ulps of the dtype, one line per case "
        "(blue: passed; red: failed, with a star at the step where it failed). Dashed orange: the tolerance. "
        "The scale is linear below 1 ulp and logarithmic above; exact results (0 ulps) are green circles at 0; "
        "non-finite errors are crosses in a band at the top.</p>",
    ]
    specs = plot_specs(rep)
    if not specs:
        out.append("<p>No per-step errors were recorded.</p>")
    out.append("<div class='plots'>")
    for spec in specs:
        tol = " ".join(f"{t:g}" for t in spec.tolerances)
        alt = f"error against step: {spec.feature}, {spec.dtype}"
        out.append(
            f"<figure class='plot' data-feature='{_esc(spec.feature)}' data-dtype='{_esc(spec.dtype)}' "
            f"data-tolerance='{tol}' data-exact='{spec.exact_points}' data-nonfinite='{spec.nonfinite_points}'>"
            f"<img alt='{_esc(alt)}' src='data:image/png;base64,{png_base64(draw_steps(spec))}'>"
            f"<figcaption>{_esc(spec.feature)}, {_esc(spec.dtype)}: tolerance {tol or 'not recorded'} ulps"
            + (f"; {spec.exact_points} exact step result(s)" if spec.exact_points else "")
            + "</figcaption></figure>"
        )
    cases = golden_cases(rep)
    if cases:
        tol = " ".join(sorted({f"{r.tolerance_ulps:g}" for r in cases if r.tolerance_ulps is not None}))
        out.append(
            f"<figure class='plot wide golden' data-feature='golden' data-dtype='all' data-tolerance='{tol}'>"
            f"<img alt='golden cases: worst error against tolerance' src='data:image/png;base64,"
            f"{png_base64(draw_golden(cases))}'><figcaption>Golden cases, numbered:<details><summary>"
            f"{len(cases)} cases</summary><ol>"
            + "".join(
                f"<li><code>{_esc(r.id)}</code>: {fmt_ulps(r.worst_ulps)} ulps "
                f"(tolerance {fmt_ulps(r.tolerance_ulps)}){' <b>failed</b>' if r.outcome in FAILING else ''}</li>"
                for r in cases
            )
            + "</ol></details></figcaption></figure>"
        )
    out.append("</div>")
    return out


def _lists(facts: ReportFacts) -> list[str]:
    rep = facts.report
    out: list[str] = []

    def section(title: str, items: list[str]) -> None:
        if items:
            out.append(f"<h2>{_esc(title)}</h2><ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")

    section("Unsupported by the implementation (not failures)", [_esc(r) for r in facts.unsupported])
    section(
        "Known divergences that occurred (accepted)",
        [f"<b>{_esc(d.id)}</b> ({len(d.used_by)} test(s)): {_esc(d.reason)}" for d in facts.occurred],
    )
    section(
        "Known divergences that did not occur" + (" (fail the run: --strict)" if rep.strict else ""),
        [
            f"<b>{_esc(d.id)}</b> passed in " + ", ".join(f"<code>{_esc(t)}</code>" for t in d.xpassed_by)
            for d in facts.xpassed
        ],
    )
    section(
        "Stale divergence entries (match no collected test)", [f"<code>{_esc(d)}</code>" for d in rep.stale_divergences]
    )
    section("Infrastructure problems (not the target's fault)", [_esc(p) for p in rep.problems])
    return out


def render_html(report: Report | dict[str, Any]) -> str:
    """The whole report as one HTML page with embedded plots.

    Raises ImportError, saying what to install, without matplotlib.
    """
    require_matplotlib()
    facts = report_facts(report)
    rep = facts.report
    word, _ = verdict(rep)
    line = verdict_line(rep).removeprefix("Verdict: ")
    big, _, detail = line.partition(" (")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'><link rel='icon' href='data:,'>",
        f"<title>Adagrad conformance: {_esc(rep.target)}: {_esc(big)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Adagrad conformance: <code>{_esc(rep.target)}</code></h1>",
        f"<div class='banner v-{word}' id='verdict' data-verdict='{word}'><div class='word'>{_esc(big)}</div>"
        + (f"<div class='detail'>{_esc(detail.removesuffix(')'))}</div>" if detail else "")
        + "</div>",
        "<ul class='config'>" + "".join(f"<li>{_esc(x)}</li>" for x in [*facts.header, facts.run]) + "</ul>",
    ]
    if facts.diagnosis:
        parts.append(f"<h2>Diagnosis</h2><div class='diagnosis' id='diagnosis'>{_esc(facts.diagnosis.strip())}</div>")
    parts += ["<h2>Features</h2>", *_grid(facts.rows), *_failures(facts.failed), *_plots(rep), *_lists(facts)]
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"
