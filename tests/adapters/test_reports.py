"""Markdown and HTML reports: the HTML is parsed and its plots of error against step found;
the known-divergences file (``--xfails``) format is honoured and stale entries are warned."""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from pathlib import Path

import pytest

from adagrad.conformance.known_divergences import load_divergences
from adagrad.conformance.report_markdown import render_markdown


def _result(test_id: str, feature: str, outcome: str, series: list[list[float | None]], message: str = "") -> dict:
    return {"id": test_id, "feature": feature, "outcome": outcome, "worst_ulps": 3.0 if outcome == "passed" else None,
            "divergence": None, "duration": 0.1, "unsupported": [], "message": message,
            "step_ulps": [{"dtype": "float32", "errors": s} for s in series]}


REPORT = {
    "target": "exec:node wrong.mjs", "adapter": "exec", "profile": "quick", "excluded": [], "unsupported": ["hooks"],
    "known_divergences": [], "stale_divergences": [],
    "results": [
        _result("test_numerics.py::test_free_running[float32]", "numerics-float32", "failed", [[0.5, 2.0, 4e6], [1.0, None]],
                "E   ConformanceFailure: param 0 after step 3: 1 of 4 element(s) outside the error model"),
        _result("test_hyperparameters.py::test_flag_combination[x]", "hyperparameters", "passed", [[0.0, 1.0, 2.0]]),
        _result("test_hooks.py::test_x", "hooks", "unsupported", []),
    ],
}


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict[str, str]] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "figure" and "plot" in a.get("class", ""):
            self.figures.append(a)
        if tag == "img":
            self.images.append(a.get("src", ""))


def test_html_report_embeds_one_plot_per_feature_and_dtype():
    pytest.importorskip("matplotlib", reason="the HTML report's plots need matplotlib (the plots extra)")
    from adagrad.conformance.report_html import render_html

    page = render_html(REPORT)
    parser = _Images()
    parser.feed(page)
    assert {(f["data-feature"], f["data-dtype"]) for f in parser.figures} == {("numerics-float32", "float32"), ("hyperparameters", "float32")}
    assert len(parser.images) == 2
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "NON-CONFORMANT" in page and "outside the error model" in page


def test_markdown_report_names_failures_and_unsupported():
    text = render_markdown(REPORT)
    assert "**Verdict: NON-CONFORMANT**" in text
    assert "| numerics-float32 | **FAIL** |" in text and "| hooks | unsupported |" in text
    assert "## Failed: numerics-float32" in text and "feature hooks is not claimed" in text


def test_xfails_file_format(tmp_path: Path):
    """One feature, test id or glob per line with its reason; a line without a reason is an error."""
    path = tmp_path / "xfails.txt"
    path.write_text("# comment\nnumerics-float16  no half precision here\n"
                    "test_golden.py::test_golden_trajectory[long-*]  a glob\nunused-entry  matches nothing\n")
    div = load_divergences(path)
    assert div.match("numerics-float16", "test_numerics.py::test_free_running[float16]").reason == "no half precision here"
    assert div.match("golden", "test_golden.py::test_golden_trajectory[long-float32-60steps]") is not None
    assert div.match("golden", "test_golden.py::test_golden_trajectory[sparse-x]") is None
    stale = div.stale({"numerics-float16", "golden"}, ["test_golden.py::test_golden_trajectory[long-float32-60steps]"])
    assert [e.pattern for e in stale] == ["unused-entry"]
    path.write_text("numerics-float16\n")
    with pytest.raises(ValueError, match="has no reason"):
        load_divergences(path)
