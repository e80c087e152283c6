"""Proof that the suite bites: ``check --profile quick`` fails every mutant, naming the broken
feature, and passes every variant (conformant another way). Also the CLI's exit statuses."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import run_check

from adagrad.conformance.features import FEATURES

from . import zoo

ROOT = Path(__file__).resolve().parents[2]


def check(target: str, tmp_path: Path, *extra: str) -> tuple[int, str, dict]:
    """``check TARGET --profile quick`` in a subprocess (tests/run_check.py); (status, output, report)."""
    status, out, report, _ = run_check.check(tmp_path, target, "--profile", "quick", *extra, timeout=600)
    return status, out, report


def _failed_features(report: dict) -> set[str]:
    return {r["feature"] for r in report.get("results", []) if r["outcome"] == "failed"}


def _zoo_args(name: str) -> list[str]:
    # -n 1 and no shrinking: the meta-test needs verdicts, not minimal examples, and runs
    # many checks side by side on two cores.
    # distributed (two spawned processes, about 45 s) only for the mutant that breaks it
    spawn = [] if zoo.MUTANTS.get(name) == "distributed" else ["--exclude", "distributed"]
    return ["-n", "1", "--no-shrink", *spawn, *[a for f in zoo.excludes(name) for a in ("--exclude", f)]]


#: Zoo members checked in every CI run: one per kind of machinery (numerics, schedule, skipped
#: parameters, non-finite comparison, state_dict, a crash, a hang, a variant). The whole zoo
#: costs about 15 s of CPU per member, more than CI's budget: `make zoo` runs every member.
CI_MEMBERS = {
    "EpsInsideSqrt",  # numerics, named by feature
    "CrashesOnStep",  # a crash on every step: the run stops after 5 crashes
    "StepAdvancesWithoutGrad",  # missing gradients
    "FusedBlocksDropTail",  # a path that breaks only on large tensors
    "PrependIgnored",  # hooks in depth
    "OtherRoundingOrder",  # a conformant variant passes
}


def _members(names):
    return [pytest.param(n, marks=() if n in CI_MEMBERS else pytest.mark.zoo_full) for n in sorted(names)]


@pytest.mark.parametrize("name", _members(zoo.MUTANTS))
def test_mutant_is_caught(name, tmp_path):
    """Each mutant exits 1 and the feature of the rule it breaks is named as failed."""
    status, out, report = check(f"tests.conformance.zoo:{name}", tmp_path, *_zoo_args(name))
    assert status == 1, f"{name}: exit status {status}\n{out[-3000:]}"
    expected = zoo.MUTANTS[name]
    if expected == "(crashed)":  # the process running a test died: named by test, under its feature
        crashed = [r for r in report["results"] if r["outcome"] == "crashed"]
        assert crashed and all(r["feature"] in FEATURES for r in crashed), out[-2000:]
        return
    if name == "HangsOnStep":
        assert any(r["outcome"] == "timed-out" for r in report["results"]), out[-2000:]
        assert "Verdict: NON-CONFORMANT" in out
        return
    assert expected in _failed_features(report), f"{name}: failed features {sorted(_failed_features(report))}"
    assert f"FAILED feature {expected}" in out


@pytest.mark.parametrize("name", _members(zoo.VARIANTS))
def test_variant_passes(name, tmp_path):
    """Each variant (another rounding order, float64 inside, torch's foreach) exits 0."""
    status, out, report = check(f"tests.conformance.zoo:{name}", tmp_path, *_zoo_args(name))
    assert status == 0, f"{name}: exit status {status}, failed {sorted(_failed_features(report))}\n{out[-4000:]}"
    assert "Verdict: CONFORMANT" in out


def test_torch_is_conformant_and_divergences_printed(tmp_path):
    """torch.optim:Adagrad exits 0 and prints exactly the known divergences that occurred."""
    status, out, report = check("torch.optim:Adagrad", tmp_path, "--strict")
    assert status == 0, out[-4000:]
    assert "torch ignores a group's own initial_accumulator_value" in out
    used = {d["id"] for d in report["divergences"] if d["used_by"]}
    assert used == {"D1", "D3", "D5"}, report["divergences"]
    assert not any(d["xpassed_by"] for d in report["divergences"])
    xfailed = {r["id"] for r in report["results"] if r["outcome"] == "xfailed"}
    assert xfailed == {t for d in report["divergences"] for t in d["used_by"]}


def test_impl_gets_no_divergences(tmp_path):
    """adagrad.impl:Adagrad exits 0 with no divergence accepted (entries name torch only)."""
    status, out, report = check("adagrad.impl:Adagrad", tmp_path)
    assert status == 0, out[-4000:]
    assert report["divergences"] == [] and not any(r["outcome"] == "xfailed" for r in report["results"])
    assert "Known divergences" not in out


def test_unimportable_target_is_a_usage_error(tmp_path):
    """A target that cannot be imported exits 2 with one clear line."""
    status, out, _ = check("no.such:Thing", tmp_path)
    assert status == 2
    lines = [line for line in out.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "no.such" in lines[0], out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["torch.optim:Adagrad", "--exclude", "no-such-feature"], "unknown feature"),
        (["torch.optim"], "module:attr"),
        (["torch.optim:NoSuchOptimizer"], "no attribute"),
        (["torch.optim:Adagrad", "-n", "0"], "between 1 and 64"),
    ],
)
def test_usage_errors(tmp_path, args, needle):
    """Usage errors exit 2 and say what is wrong."""
    proc = run_check.check_usage(tmp_path, *args)
    assert proc.returncode == 2 and needle in proc.stderr, proc.stderr


@pytest.mark.zoo_full  # CI runs pytest --pyargs at quick (tests/conformance/test_verdicts.py)
@pytest.mark.parametrize("target", ["torch.optim:Adagrad", "adagrad.impl:Adagrad"])
def test_pytest_pyargs_from_any_directory_ci_profile(tmp_path, target):
    """`pytest --pyargs adagrad.conformance --adagrad-target T` runs from a bare directory, under
    the ci profile (more examples than check's quick default), and passes torch and ours."""
    # distributed (spawned processes): the check tests above run it
    cmd = run_check.pyargs_command(target, "ci", "-n", "2", "--adagrad-exclude", "distributed")
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert "passed" in proc.stdout.splitlines()[-1]


@pytest.mark.zoo_full
@pytest.mark.parametrize("name", sorted(zoo.VARIANTS))
def test_variant_passes_under_pytest_pyargs(name, tmp_path):
    """Each variant also passes under the user's own pytest (`pytest --pyargs`, from a bare
    directory, quick profile), with the examples `check` draws (both seed from the test id)."""
    excludes = [a for f in ["distributed", *zoo.excludes(name)] for a in ("--adagrad-exclude", f)]
    cmd = run_check.pyargs_command(f"tests.conformance.zoo:{name}", "quick", *excludes)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-5000:]


@pytest.mark.zoo_full
@pytest.mark.parametrize("name", sorted(zoo.VARIANTS))
def test_variant_passes_at_ci(name, tmp_path):
    """Each variant passes at the ci profile too (12 examples per property)."""
    status, out, report = check(f"tests.conformance.zoo:{name}", tmp_path, *_zoo_args(name), "--profile", "ci")
    assert status == 0, f"{name}: exit status {status}, failed {sorted(_failed_features(report))}\n{out[-4000:]}"
