"""Hostile ``--exec`` programs through ``adagrad-conformance check`` (issues: hostile environment,
never-hang): each gets its right verdict, said in its own words, in bounded time, and nothing it
started is alive afterwards.

Every run carries a unique marker in its environment, which everything it starts inherits; after
the run, no process may carry it (``run_check.check``). The programs are the Node.js examples of
``examples/exec/`` and small Python programs. Runs that need more than about 20 s are marked
``zoo_full`` (``make zoo``).
"""

from __future__ import annotations

import json
import shlex
import sys

import pytest
from run_check import check

from .adapter_helpers import EXAMPLES, needs_node

QUICK = ("--profile", "quick", "-n", "1", "--no-shrink")


def node(example: str, *args: str) -> str:
    return shlex.join(["node", str(EXAMPLES / example), *args])


def python_program(body: str) -> str:
    """A Python program answering hello (claiming numerics-float64), then ``body`` for the rest."""
    code = (
        "import sys, json\n"
        "for line in sys.stdin:\n"
        "    if json.loads(line)['op'] == 'hello':\n"
        "        print(json.dumps({'features': ['numerics-float64']}), flush=True)\n"
        "        continue\n"
        f"    {body}\n"
    )
    return shlex.join([sys.executable, "-c", code])


def _outcomes(report: dict) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in report.get("results", []):
        out[r["outcome"]] = out.get(r["outcome"], 0) + 1
    return out


@needs_node
def test_non_utf8_bytes_on_stderr_change_nothing(tmp_path):
    """A correct program logging 2 KiB with bytes that are not UTF-8 per request (75 requests:
    more than the 64 KiB a pipe holds) is CONFORMANT."""
    status, out, report, _ = check(tmp_path, "--exec", node("stderr_bytes.mjs"), *QUICK, "--only", "numerics-float64")
    assert status == 0, out[-4000:]
    assert "Verdict: CONFORMANT" in out
    assert _outcomes(report).get("passed", 0) >= 3, _outcomes(report)


@needs_node
@pytest.mark.parametrize("example", ["hang.mjs", "ignores_sigterm.mjs"])
def test_hanging_program_fails_in_bounded_time_and_leaves_nothing(tmp_path, example):
    """hang.mjs answers hello, then nothing; ignores_sigterm.mjs also ignores SIGTERM and starts a
    child that does the same. Exit 1 naming the hang; neither they nor the child survive."""
    status, out, report, seconds = check(
        tmp_path, "--exec", node(example), "--exec-timeout", "2", *QUICK, "--only", "numerics-float64", timeout=120
    )
    assert status == 1, out[-4000:]
    assert "Verdict: NON-CONFORMANT (failed: numerics-float64)" in out
    assert "did not answer 'init' within 2 s" in json.dumps(report), out[-3000:]
    assert seconds < 60, seconds


@needs_node
@pytest.mark.zoo_full
def test_program_ignoring_sigterm_at_the_default_timeout(tmp_path):
    """The issue's case as stated: default --exec-timeout (10 s), quick profile: exit 1 within 2 minutes."""
    status, out, report, seconds = check(
        tmp_path, "--exec", node("ignores_sigterm.mjs"), "--profile", "quick", "--only", "numerics-float64", timeout=180
    )
    assert status == 1, out[-4000:]
    assert "Verdict: NON-CONFORMANT (failed: numerics-float64)" in out
    said = json.dumps(report)  # the hang, in the driver's words (the first, or its count once it stopped restarting)
    assert "did not answer 'init' within 10 s" in said or "hung 3 times in this run (no answer within 10 s" in said, (
        out[-3000:]
    )
    assert seconds < 120, seconds


@needs_node
def test_unsupported_after_the_first_step_is_not_verified(tmp_path):
    """Claims every feature, then refuses every step after its first: never CONFORMANT, never exit 0.

    A refusal of a kind of step the program already took (same hyperparameters, same gradients
    present) within one case is a failure; a case refused from its first step is unsupported, and
    a claimed feature none of whose tests ran is "not verified"."""
    status, out, report, _ = check(tmp_path, "--exec", node("unsupported.mjs"), *QUICK, "--only", "missing-grads")
    assert status in (1, 3), out[-4000:]
    assert report["verdict"] in ("non-conformant", "not-verified"), out[-4000:]
    assert "Verdict: CONFORMANT" not in out
    assert "every step after the first" in out  # the program's reason is reported


@pytest.mark.zoo_full
@needs_node
def test_slow_program_is_not_charged_to_the_test_limit(tmp_path):
    """Answers after 0.5 s each, about 6 per test: more than --timeout 2 per test in all, yet its
    time is bounded by --exec-timeout and --exec-budget, not by the per-test limit: CONFORMANT."""
    status, out, report, _ = check(
        tmp_path, "--exec", node("slow.mjs", "0.5"), "--timeout", "2", *QUICK, "--only", "missing-grads"
    )
    assert status == 0, out[-4000:]
    assert "Verdict: CONFORMANT" in out
    assert report["run"]["timeouts"] == 0


@pytest.mark.zoo_full
@needs_node
def test_budget_spent_is_too_slow_not_a_hang(tmp_path):
    status, out, report, _ = check(
        tmp_path, "--exec", node("slow.mjs", "0.5"), "--exec-budget", "2", *QUICK, "--only", "missing-grads"
    )
    assert status == 1, out[-4000:]
    assert "too slow" in out and "--exec-budget 2 s" in out, out[-3000:]
    assert "did not answer" not in out and "timed out" not in out and report["run"]["timeouts"] == 0


@needs_node
@pytest.mark.zoo_full
def test_two_seconds_per_answer_gets_its_verdict(tmp_path):
    """The issue's slow program: correct, 2 s per answer (about 20 answers for missing-grads at
    quick), default budget (300 s at quick): CONFORMANT."""
    status, out, _, seconds = check(
        tmp_path, "--exec", node("slow.mjs", "2"), *QUICK, "--only", "missing-grads", timeout=400
    )
    assert status == 0, out[-4000:]
    assert "Verdict: CONFORMANT" in out


@pytest.mark.zoo_full
def test_garbage_is_reported_as_garbage(tmp_path):
    status, out, report, seconds = check(
        tmp_path,
        "--exec",
        python_program("print('<html>oops</html>', flush=True)"),
        *QUICK,
        "--only",
        "numerics-float64",
        timeout=120,
    )
    assert status == 1, out[-4000:]
    assert "not a protocol answer to 'init': \\\"<html>oops</html>\\\"" in json.dumps(report), out[-3000:]
    assert "did not answer" not in out and "hangs" not in out and "hung" not in out and "timed out" not in out


def test_garbage_at_hello_fails_at_once(tmp_path):
    status, out, _, seconds = check(
        tmp_path, "--exec", shlex.join([sys.executable, "-c", "print('hi')"]), *QUICK, timeout=60
    )
    assert status == 1, out[-3000:]
    assert "broke the protocol at hello" in out and "not a protocol answer to 'hello'" in out, out[-3000:]
