"""Hostile targets and environments: the verdict holds (issues: verdicts, never-hang, hostile environment).

Each test runs ``adagrad-conformance check`` in a subprocess on one target of
``tests/conformance/hostile/`` and asserts its exit status and what the report names.
Nothing the run started may be alive afterwards (checked through a marker in the environment).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from run_check import ROOT, alive_with, check, check_usage

H = "tests.conformance.hostile"


def _outcomes(report: dict) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in report.get("results", []):
        out.setdefault(r["outcome"], set()).add(r["id"])
    return out


QUICK = ("--profile", "quick", "-n", "1", "--no-shrink")


@pytest.mark.parametrize(
    "name",
    [
        "SkipsItself",
        *(pytest.param(n, marks=pytest.mark.zoo_full) for n in ("XfailsItself", "RaisesSkipTest", "ExitsInStep")),
    ],
)
def test_target_cannot_skip_or_end_its_own_checks(tmp_path, name):
    """pytest.skip / pytest.xfail / unittest.SkipTest / SystemExit from a step are failures."""
    status, out, report, _ = check(tmp_path, f"{H}.steps:{name}", *QUICK, "--only", "numerics-float32")
    assert status == 1, out[-3000:]
    assert "Verdict: NON-CONFORMANT" in out
    assert _outcomes(report).get("failed"), out[-3000:]
    assert not _outcomes(report).get("skipped-unexpectedly") and not _outcomes(report).get("xfailed")


def test_sleeping_target_times_out_and_run_stops(tmp_path):
    """A step that sleeps forever: timed out under its feature, the run stops, exit 1, fast."""
    status, out, report, seconds = check(
        tmp_path,
        f"{H}.steps:SleepsForever",
        *QUICK,
        "--timeout",
        "4",
        "--only",
        "numerics-float32",
        "--only",
        "hyperparameters",
    )
    assert status == 1, out[-3000:]
    assert len(_outcomes(report).get("timed-out", ())) >= 1, out[-3000:]
    assert report["run"]["status"] == "stopped-early"
    assert seconds < 120


@pytest.mark.zoo_full
def test_gil_holding_target_times_out(tmp_path):
    """C code that never releases the GIL cannot stop the watchdog: it runs in another process."""
    status, out, report, seconds = check(
        tmp_path, f"{H}.steps:HoldsTheGil", *QUICK, "--timeout", "4", "--only", "numerics-float32"
    )
    assert status == 1 and _outcomes(report).get("timed-out"), out[-3000:]
    assert seconds < 120


def test_abort_is_a_crash_named_by_test(tmp_path):
    """os.abort() in the third step: exit 1, the test that crashed named."""
    status, out, report, _ = check(tmp_path, f"{H}.steps:Aborts", *QUICK, "--only", "numerics-float32")
    assert status == 1, out[-3000:]
    crashed = _outcomes(report).get("crashed", set())
    assert crashed and all(c.startswith("test_") for c in crashed), out[-3000:]
    assert any(c in out for c in crashed)


@pytest.mark.parametrize("module", ["patch_sqrt", "flush_denormal"])
def test_process_wide_patches_cannot_reach_the_oracle(tmp_path, module):
    """A target that patches numpy.sqrt (and computes without it), or sets flush-to-zero and so
    flushes subnormals, is non-conformant: the oracle and comparison run in another process."""
    status, out, report, _ = check(tmp_path, f"{H}.{module}:Adagrad", *QUICK, "--only", "numerics-float64")
    assert status == 1, out[-3000:]
    if module == "flush_denormal":  # caught where subnormals are the subject
        assert any("test_subnormal_range" in t for t in _outcomes(report).get("failed", ())), out[-3000:]


def test_exit_at_import_is_not_a_pass(tmp_path):
    status, out, _, seconds = check(tmp_path, f"{H}.exit_at_import:Adagrad", *QUICK)
    assert status == 2 and "exit" in out.lower(), out[-2000:]


@pytest.mark.zoo_full
def test_exit_in_constructor_is_not_a_pass(tmp_path):
    status, out, report, _ = check(tmp_path, f"{H}.steps:ExitsInConstructor", *QUICK, "--only", "numerics-float32")
    assert status == 1, out[-3000:]


@pytest.mark.zoo_full
def test_loud_correct_target_is_conformant(tmp_path):
    """A correct target printing 2 MB per step is conformant (output volume never decides)."""
    status, out, report, _ = check(
        tmp_path, f"{H}.steps:Prints2MB", *QUICK, "--only", "numerics-float32", "--only", "hyperparameters"
    )
    assert status == 0, out[-3000:]


def test_user_pytest_configuration_does_not_reach_the_run(tmp_path):
    """PYTEST_ADDOPTS and a pytest.ini with a plugin above the run directory change nothing."""
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p hostile_plugin_that_does_not_exist\n")
    sub = tmp_path / "run"
    sub.mkdir()
    status, out, report, _ = check(
        sub,
        f"{H}.patch_sqrt:Adagrad",
        *QUICK,
        "--only",
        "numerics-float64",
        env={"PYTEST_ADDOPTS": "-k zero_grad_sets_none", "PYTEST_PLUGINS": "nonexistent_plugin"},
    )
    assert status == 1, out[-3000:]
    assert report["results"] and any(r["outcome"] == "failed" for r in report["results"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["torch.optim:Adagrad", "--timeout", "-1"], "--timeout"),
        (["torch.optim:Adagrad", "--timeout", "0"], "--timeout"),
        (["torch.optim:Adagrad", "--timeout", "nan"], "--timeout"),
        (["--exec", "node x.mjs", "--exec-timeout", "inf"], "--exec-timeout"),
        (["--exec", "node 'unbalanced"], "cannot be split"),
        (["torch.optim:Adagrad", "--report", "/no/such/dir/r.json"], "does not exist"),
        (["torch.optim:Adagrad", "--junitxml", "/no/such/dir/j.xml"], "does not exist"),
        (["torch.optim:Adagrad", "-n", "0"], "-n"),
        (["torch.optim:Adagrad", "--only", "no-such-feature"], "unknown feature"),
    ],
)
def test_bad_options_refused_at_once(tmp_path, args, needle):
    """Each bad option: exit 2, one line, in under 2 seconds (nothing imported, nothing run)."""
    t0 = time.monotonic()
    proc = check_usage(tmp_path, *args, timeout=60)
    seconds = time.monotonic() - t0
    assert proc.returncode == 2 and needle in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert seconds < 2 * max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1)), seconds


def test_wildcard_xfails_file_refused(tmp_path):
    bad = tmp_path / "x.toml"
    bad.write_text('[[divergence]]\nid = "X"\nreason = "all"\ntests = ["*"]\nexpect = "numerics"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "adagrad.conformance.cli", "check", "torch.optim:Adagrad", "--xfails", str(bad)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "globs are refused" in proc.stderr, proc.stderr


def test_divergences_belong_to_their_target(tmp_path):
    """A torch subclass whose fused path mishandles strides is non-conformant: D5 names torch only."""
    status, out, report, _ = check(tmp_path, f"{H}.steps:TorchSubclass", *QUICK, "--only", "layouts", "--only", "fused")
    assert status == 1, out[-3000:]
    assert report["divergences"] == []
    failed = [r for r in report["results"] if r["outcome"] == "failed"]
    assert failed and all(r["path"] == "fused" for r in failed), out[-3000:]


@pytest.mark.parametrize(
    ("sig", "status"), [(signal.SIGTERM, 143), pytest.param(signal.SIGINT, 130, marks=pytest.mark.zoo_full)]
)
def test_signal_prints_partial_verdict_and_leaves_nothing(tmp_path, sig, status):
    """SIGTERM (Ctrl-C: SIGINT) stops the run: the partial verdict, marked interrupted, then exit 143 (130)."""
    marker = f"ADAGRAD_TEST_MARKER_{uuid.uuid4().hex}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), marker: "1"}
    cmd = [
        sys.executable,
        "-m",
        "adagrad.conformance.cli",
        "check",
        f"{H}.steps:SleepsForever",
        *QUICK,
        "--only",
        "numerics-float32",
        "--timeout",
        "60",
    ]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (tmp_path / "started").exists():
        if any(p for p in alive_with(marker) if p != proc.pid and b"pytest" in Path(f"/proc/{p}/cmdline").read_bytes()):
            break
        time.sleep(0.5)
    time.sleep(3)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == status, out[-3000:]
    assert "Verdict: INTERRUPTED" in out or "interrupted" in out.lower(), out[-3000:]
    time.sleep(1)
    assert not alive_with(marker), f"left behind: {alive_with(marker)}"
