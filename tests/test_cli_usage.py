"""The command line as a user meets it: options that must work together, dependency checks
before the run (issue 15)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from adagrad.conformance.features import FEATURES

CLI = [sys.executable, "-m", "adagrad.conformance.cli"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(extra)
    return env


def test_html_without_matplotlib_is_a_usage_error_before_the_run(tmp_path):
    """``--html`` where matplotlib cannot be imported: exit 2 at once, one line naming what to
    install, nothing run."""
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['matplotlib'] = None  # blocked\n")
    proc = subprocess.run(
        [*CLI, "check", "torch.optim:Adagrad", "--html", str(tmp_path / "r.html")],
        env=_env(PYTHONPATH=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert [line for line in lines if "matplotlib" in line and "pip install" in line], lines
    assert not any("checking" in line for line in lines), lines  # the run never started
    assert not (tmp_path / "r.html").exists()


def test_only_with_auto_workers_and_a_seed(tmp_path):
    """``--only hyperparameters -n auto --seed 7``: exit 0, only that feature run, seed 7 reported."""
    report = tmp_path / "r.json"
    proc = subprocess.run(
        [
            *CLI,
            "check",
            "torch.optim:Adagrad",
            "--only",
            "hyperparameters",
            "-n",
            "auto",
            "--seed",
            "7",
            "--profile",
            "quick",
            "--report",
            str(report),
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    data = json.loads(report.read_text())
    assert data["seed"] == 7, data["seed"]
    ran = {r["feature"] for r in data["results"] if r["outcome"] != "excluded"}
    assert ran == {"hyperparameters"}, ran
    assert "seed 7" in proc.stdout


def test_list_features_names_the_paths_each_feature_runs_on():
    """``--list-features`` prints every feature with the paths its tests run on (from collection)."""
    proc = subprocess.run([*CLI, "check", "--list-features"], env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    assert set(FEATURES) <= set(lines), sorted(set(FEATURES) - set(lines))
    for name in ("numerics-float64", "groups", "layouts", "non-finite", "missing-grads"):
        assert "[paths: " in lines[name] and all(p in lines[name] for p in ("for-loop", "foreach", "fused")), lines[
            name
        ]
