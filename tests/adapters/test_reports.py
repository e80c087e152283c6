"""The known-divergences file (``--xfails``) format is honoured and stale entries are warned.

The reports themselves (model, schema, verdict, CLI summary, Markdown, HTML and its plots) are
tested in ``tests/reporting/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adagrad.conformance.known_divergences import load_divergences


def test_xfails_file_format(tmp_path: Path):
    """One feature, test id or glob per line with its reason; a line without a reason is an error."""
    path = tmp_path / "xfails.txt"
    path.write_text(
        "# comment\nnumerics-float16  no half precision here\n"
        "test_golden.py::test_golden_trajectory[long-*]  a glob\nunused-entry  matches nothing\n"
    )
    div = load_divergences(path)
    assert (
        div.match("numerics-float16", "test_numerics.py::test_free_running[float16]").reason == "no half precision here"
    )
    assert div.match("golden", "test_golden.py::test_golden_trajectory[long-float32-60steps]") is not None
    assert div.match("golden", "test_golden.py::test_golden_trajectory[sparse-x]") is None
    stale = div.stale({"numerics-float16", "golden"}, ["test_golden.py::test_golden_trajectory[long-float32-60steps]"])
    assert [e.pattern for e in stale] == ["unused-entry"]
    path.write_text("numerics-float16\n")
    with pytest.raises(ValueError, match="has no reason"):
        load_divergences(path)
