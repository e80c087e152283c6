"""The installed pytest plugin is inert in a project that is not running the suite (issue 15)."""

from __future__ import annotations

import os
import subprocess
import sys

PLAIN = """
from hypothesis import given, settings, strategies as st
SEEN = []

@given(st.integers())
def test_draws(x):
    SEEN.append(x)

def test_hypothesis_defaults(request):
    assert len(SEEN) == 100, len(SEEN)
    assert settings().derandomize is False and settings().database is not None
    assert "target" not in request.fixturenames and "adagrad_target" not in request.fixturenames

def test_no_suite_fixtures(request):
    import pytest
    for name in ("target", "adagrad_target", "record_ulps"):
        with pytest.raises(pytest.FixtureLookupError):
            request.getfixturevalue(name)
"""


def test_unrelated_project_keeps_hypothesis_defaults(tmp_path):
    (tmp_path / "test_plain.py").write_text(PLAIN)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "test_plain.py"],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "CI"},  # with CI set, hypothesis loads its own ci profile
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "3 passed" in proc.stdout
