"""The renderers show what report.py derives: CLI summary, Markdown, HTML (parsed) and its plots."""

from __future__ import annotations

import base64
import math
import sys
from html.parser import HTMLParser

import pytest

from adagrad.conformance.reporting.markdown import render_markdown
from adagrad.conformance.reporting.model import Report
from adagrad.conformance.reporting.summary import render_summary, verdict_line
from tests.reporting.synthetic import failing_report, passing_report

FAILING = failing_report()
STATEMENT = next(
    r["failure"]["statement"]
    for r in FAILING["results"]
    if r["id"].startswith("test_paths.py") and r["outcome"] == "failed"
)


def test_summary_key_lines():
    text = render_summary(FAILING)
    lines = text.splitlines()
    assert "Target mypkg.optim:Adagrad (torch Optimizer API)" in lines
    assert "adapter torch, profile quick, seed 0" in lines
    assert any(line.startswith("Python 3.11.2, torch 2.13.0+cpu, pytest 8.3.3") for line in lines)
    assert "excluded: sparse" in lines
    assert (
        STATEMENT
        in lines[
            lines.index(
                "Smallest failing case: test_paths.py::test_fused_matches_oracle[float64-1] (failed, case size 24)"
            )
            + 1
        ]
    )
    assert "FAILED feature layouts: 1 test(s) (1 timed-out) on path fused" in lines
    assert "  D5 (1 test): torch's fused CPU kernel ignores strides" in lines
    assert any(line.startswith("note: divergence D1 did not occur") for line in lines)
    assert "warning: divergence entry D7 matches no collected test" in lines
    assert "  register_step_pre_hook is not implemented (NotImplementedError)" in lines
    assert FAILING["diagnosis"]["summary"] in text
    assert lines[-1] == "Verdict: NON-CONFORMANT (failed: hyperparameters, fused, layouts, golden)"


def test_summary_of_a_passing_run_has_no_failure_sections():
    text = render_summary(passing_report())
    assert "FAILED" not in text and "Smallest failing case" not in text and "Diagnosis" not in text
    assert text.rstrip().endswith("Verdict: CONFORMANT")


def test_markdown_key_lines():
    text = render_markdown(FAILING)
    assert f"**{verdict_line(FAILING)}**" in text
    assert "| fused | **FAIL** | 1 | 2 | 1 | 0 | 0 | 0 | 1.73 | fused |" in text
    assert "| sparse | excluded |" in text and "| hooks | partial |" in text
    assert "## Failed: fused (1 failed, 1 crashed)" in text
    assert f"```text\n{STATEMENT}\n```" in text and "```python\nimport torch" in text
    assert "## Stale divergence entries (match no collected test)" in text
    assert "## Diagnosis" in text


class _Page(HTMLParser):
    """The parts of the HTML report a reader relies on."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.figures: list[dict[str, str]] = []
        self.images: list[str] = []
        self.ids: dict[str, str] = {}
        self.buttons: list[dict[str, str]] = []
        self.cells: dict[tuple[str, str], str] = {}
        self.banner: dict[str, str] = {}
        self.failure_text = ""
        self.scripts_with_src = 0
        self._row: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.stack.append((tag, a))
        if tag == "figure" and "plot" in a.get("class", ""):
            self.figures.append(a)
        if tag == "img":
            self.images.append(a["src"])
        if tag == "button":
            self.buttons.append(a)
        if "id" in a:
            self.ids[a["id"]] = tag
        if tag == "div" and a.get("id") == "verdict":
            self.banner = a
        if tag == "tr" and "data-feature" in a:
            self._row = a["data-feature"]
        if tag == "script" and "src" in a:
            self.scripts_with_src += 1

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data):
        if not self.stack:
            return
        tag, a = self.stack[-1]
        if tag == "td" and "data-path" in a and self._row:
            self.cells[(self._row, a["data-path"])] = data
        if tag == "pre" and "failure" in a.get("class", ""):
            self.failure_text += data


@pytest.fixture(scope="module")
def page() -> _Page:
    pytest.importorskip("matplotlib", reason="the HTML report's plots need matplotlib (the plots extra)")
    from adagrad.conformance.reporting.html_page import render_html

    parsed = _Page()
    parsed.feed(render_html(FAILING))
    return parsed


def test_html_banner_and_grid(page):
    assert page.banner["data-verdict"] == "non-conformant" and "v-non-conformant" in page.banner["class"]
    assert page.cells[("fused", "fused")] == "FAIL"
    assert page.cells[("layouts", "fused")] == "FAIL" and page.cells[("layouts", "default")] == "ok"
    assert page.cells[("foreach", "foreach")] == "ok"
    assert page.cells[("sparse", "default")] == "excluded"


def test_html_plots_one_per_feature_and_dtype_with_tolerance(page):
    expected = {(r["feature"], s["dtype"]) for r in FAILING["results"] for s in r["step_ulps"] if s["errors"]}
    steps = [f for f in page.figures if "golden" not in f["class"]]
    assert {(f["data-feature"], f["data-dtype"]) for f in steps} == expected
    assert all(f["data-tolerance"] for f in page.figures)  # every plot draws a tolerance
    assert [f["data-feature"] for f in page.figures if "golden" in f["class"]] == ["golden"]
    assert any(int(f["data-nonfinite"]) for f in steps) and any(int(f["data-exact"]) for f in steps)
    assert len(page.images) == len(page.figures)
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_html_failure_text_and_copyable_snippet(page):
    assert STATEMENT in page.failure_text
    assert page.buttons and all(page.ids.get(b["data-for"]) == "pre" for b in page.buttons)
    assert page.ids.get("diagnosis") == "div"
    assert page.scripts_with_src == 0  # self-contained


def _steps_spec(errors, failed=False, fail_step=None, tol=6.0):
    from adagrad.conformance.reporting.plots import PlotSpec, SeriesSpec

    return PlotSpec("fused", "float64", [SeriesSpec("t", errors, failed, fail_step, tol)])


def test_step_plot_draws_tolerance_zeros_failure_and_integer_steps():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from adagrad.conformance.reporting.plots import draw_steps

    fig = draw_steps(_steps_spec([0.0, 2.0, 4e6, None], failed=True, fail_step=3))
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    tol = lines["tolerance 6 ulps"]
    assert set(tol.get_ydata()) == {6.0} and tol.get_linestyle() == "--"
    exact = lines["exact (0 ulps)"]
    assert list(exact.get_xdata()) == [1] and list(exact.get_ydata()) == [0.0]
    assert ax.get_ylim()[0] < 0  # 0 is on the axis, not clipped to a floor
    star = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert len(star) == 1 and list(star[0].get_xdata()) == [3] and list(star[0].get_ydata()) == [4e6]
    failed_line = next(line for line in ax.get_lines() if len(line.get_xdata()) == 4)
    assert list(failed_line.get_xdata()) == [1, 2, 3, 4]  # drawn as a line over every step
    nonfinite = lines["non-finite"]
    assert list(nonfinite.get_xdata()) == [4] and nonfinite.get_ydata()[0] > 4e6
    lo, hi = ax.get_xlim()
    assert all(float(t).is_integer() for t in ax.get_xticks() if lo <= t <= hi)
    plt.close(fig)


def test_golden_plot_draws_each_case_against_its_tolerance():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from adagrad.conformance.reporting.plots import draw_golden, golden_cases

    cases = golden_cases(Report.from_json(FAILING))
    fig = draw_golden(cases)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines["tolerance (per case)"].get_ydata()) == [r.tolerance_ulps for r in cases]
    failed = [r for r in cases if r.outcome == "failed"]
    assert len(lines["failed"].get_xdata()) == len(failed) > 0
    assert len(lines["exact (0 ulps)"].get_xdata()) == sum(r.worst_ulps == 0 for r in cases)
    assert any(math.isinf(r.worst_ulps if r.worst_ulps is not None else math.inf) for r in failed)
    plt.close(fig)


def test_html_without_matplotlib_says_what_to_install(monkeypatch):
    from adagrad.conformance.reporting import html_page as report_html

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'adagrad-conformance\[plots\]'"):
        report_html.require_matplotlib()
    with pytest.raises(ImportError, match=r"--html\) needs matplotlib"):
        report_html.render_html(passing_report())
