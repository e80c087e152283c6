"""examples/ci: each job runs the documented command and keeps the HTML report whatever the verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

CI = Path(__file__).resolve().parents[2] / "examples" / "ci"
COMMAND = "adagrad-conformance check mypkg:Adagrad --html report.html --report report.json"


@pytest.mark.parametrize(
    ("name", "always"), [("github-actions.yml", "if: always()"), ("gitlab-ci.yml", "when: always")]
)
def test_ci_example_runs_the_check_and_keeps_the_report(name, always):
    text = (CI / name).read_text()
    lines = [line.strip() for line in text.splitlines()]
    assert any(line.endswith(COMMAND) for line in lines if not line.startswith("#"))
    assert always in lines
    assert {"report.html", "- report.html"} & set(lines)  # the artifact's paths
    assert "\t" not in text  # YAML forbids tabs for indentation
    assert COMMAND in (CI / "README.md").read_text()
