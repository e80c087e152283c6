"""The subprocess protocol: the Node.js examples through ``check --exec``, and every way a
program can break the protocol (exit, hang, garbage) failing clearly and in bounded time."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest

from adagrad.conformance.adapters.subprocess_protocol import ProgramError, ProgramHang, ProgramSetupError, SubprocessAdagrad

from .adapter_helpers import EXAMPLES, HYPER, needs_node, run_check


@needs_node
def test_conformant_node_example_passes():
    proc = run_check("--exec", f"node {EXAMPLES / 'adagrad.mjs'}",
                     only=("numerics-float64", "numerics-float32", "numerics-bfloat16", "non-finite", "lr-schedule", "state-dict"))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Verdict: CONFORMANT" in proc.stdout
    assert "state-dict           unsupported" in proc.stdout  # not claimed: reported, not hidden


@needs_node
def test_wrong_node_example_fails_naming_the_feature():
    proc = run_check("--exec", f"node {EXAMPLES / 'adagrad_wrong.mjs'}", only=("numerics-float64",))
    assert proc.returncode == 1, proc.stdout[-4000:]
    assert "Verdict: NON-CONFORMANT (failed: numerics-float64)" in proc.stdout
    assert "outside the error model" in proc.stdout


@needs_node
def test_hanging_program_fails_within_the_time_limit():
    start = time.monotonic()
    proc = run_check("--exec", f"node {EXAMPLES / 'hang.mjs'}", "--exec-timeout", "2", only=("numerics-float64",), timeout=90)
    elapsed = time.monotonic() - start
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "hangs" in proc.stdout and "did not answer" in proc.stdout
    assert elapsed < 60


def _program(body: str) -> str:
    """A Python program (a stand-in for any language) answering hello, then doing ``body``."""
    code = (
        "import sys, json\n"
        "for line in sys.stdin:\n"
        "    op = json.loads(line)['op']\n"
        "    if op == 'hello':\n"
        "        print(json.dumps({'features': ['numerics-float64']}), flush=True)\n"
        "        continue\n"
        f"    {body}\n"
    )
    return f"{sys.executable} -c \"{code}\""


PARAMS = [np.array([1.0, 2.0])]


@pytest.mark.parametrize(("body", "error", "message"), [
    ("sys.exit(3)", ProgramError, r"exited \(status 3\)"),
    ("print('not json', flush=True)", ProgramError, "not JSON"),
    ("print('[1, 2]', flush=True)", ProgramError, "not a JSON object"),
    ("print(json.dumps({'error': 'boom'}), flush=True)", ProgramError, "reported an error on 'init': boom"),
    ("print(json.dumps({'state': {'sums': []}}), flush=True)", ProgramError, "no state with sums and steps"),
    ("import time; time.sleep(30)", ProgramHang, "did not answer 'init' within 1 s"),
], ids=["exits", "garbage", "not-an-object", "error", "bad-state", "hangs"])
def test_protocol_breach_is_a_clear_failure(body, error, message):
    impl = SubprocessAdagrad(_program(body), timeout=1)
    start = time.monotonic()
    try:
        with pytest.raises(error, match=message):
            impl.init(PARAMS, HYPER)
    finally:
        impl.close()
    assert time.monotonic() - start < 10


def test_unsupported_answer_and_silent_hello():
    from adagrad.conformance.adapters import Unsupported

    impl = SubprocessAdagrad(_program("print(json.dumps({'unsupported': 'weight decay'}), flush=True)"), timeout=5)
    with pytest.raises(Unsupported, match="weight decay"):
        impl.init(PARAMS, HYPER)
    impl.close()
    with pytest.raises(ProgramSetupError, match="did not answer 'hello'"):
        SubprocessAdagrad(f"{sys.executable} -c \"import time; time.sleep(30)\"", timeout=1)


@needs_node
def test_round_trip_keeps_every_bit():
    """NaN, -0.0 and subnormals cross the protocol unchanged (the fixture encoding)."""
    impl = SubprocessAdagrad(f"node {EXAMPLES / 'adagrad.mjs'}")
    p = [np.array([np.nan, -0.0, 5e-324, 1.0])]
    state = impl.init(p, HYPER)
    out, state = impl.step(state, p, [None])
    impl.close()
    assert np.array_equal(out[0], p[0], equal_nan=True) and np.signbit(out[0][1])
