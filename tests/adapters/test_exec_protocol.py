"""The subprocess protocol's driver: the Node.js examples through ``check --exec``, and every way
a program can break the protocol (exit, hang, garbage, a line without end, bytes that are not
UTF-8, slowness) failing clearly, in bounded time and memory.

The programs that break it are small Python programs (a stand-in for any language); the
check-level runs of hostile Node programs are in ``test_exec_hostile.py``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from adagrad.conformance.adapters import AdapterError, Unsupported
from adagrad.conformance.adapters import subprocess_protocol as sp
from adagrad.conformance.adapters.exec_clock import WaitClock, waited_seconds
from adagrad.conformance.adapters.subprocess_protocol import (
    ProgramError,
    ProgramHang,
    ProgramSetupError,
    ProgramTooSlow,
    SubprocessAdagrad,
)

from .adapter_helpers import EXAMPLES, HYPER, needs_node, run_check

PARAMS = [np.array([1.0, 2.0])]


@needs_node
def test_conformant_node_example_passes():
    proc = run_check(
        "--exec",
        f"node {EXAMPLES / 'adagrad.mjs'}",
        only=("numerics-float64", "numerics-float32", "numerics-bfloat16", "non-finite", "lr-schedule", "state-dict"),
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Verdict: CONFORMANT" in proc.stdout
    assert "state-dict           not claimed" in proc.stdout  # not claimed: reported, not hidden


@needs_node
def test_wrong_node_example_fails_naming_the_feature():
    proc = run_check("--exec", f"node {EXAMPLES / 'adagrad_wrong.mjs'}", only=("numerics-float64",))
    assert proc.returncode == 1, proc.stdout[-4000:]
    assert "Verdict: NON-CONFORMANT (failed: numerics-float64)" in proc.stdout
    assert "outside the error model" in proc.stdout


def _program(body: str, *, before: str = "") -> str:
    """A Python program (a stand-in for any language) answering hello, then running ``body`` for
    every other request (``req`` and ``op`` are set); ``before`` runs once at its start."""
    code = (
        "import sys, json, time\n" + before + "\n"
        "for line in sys.stdin:\n"
        "    req = json.loads(line)\n"
        "    op = req['op']\n"
        "    if op == 'hello':\n"
        "        print(json.dumps({'features': ['numerics-float64']}), flush=True)\n"
        "        continue\n" + textwrap.indent(body, "    ") + "\n"
    )
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


#: A correct answer to init (one parameter of two elements).
_STATE = "{'state': {'sums': [{'dtype': 'float64', 'shape': [2], 'hex': '0000000000000000 0000000000000000'}], 'steps': [0]}}"
ANSWER = f"print(json.dumps({_STATE}), flush=True)"


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ("sys.exit(3)", ProgramError, r"exited \(status 3\) instead of answering 'init'"),
        ("print('not json', flush=True)", ProgramError, "not a protocol answer to 'init': \"not json\""),
        ("print('[1, 2]', flush=True)", ProgramError, r"not a protocol answer to 'init': \"\[1, 2\]\""),
        ("sys.stdout.buffer.write(b'{\\xff\\xfe}\\n'); sys.stdout.flush()", ProgramError, "not a protocol answer"),
        ("print(json.dumps({'error': 'boom'}), flush=True)", ProgramError, "reported an error on 'init': boom"),
        ("print(json.dumps({'state': {'sums': []}}), flush=True)", ProgramError, "no state with sums and steps"),
        ("time.sleep(30)", ProgramHang, r"did not answer 'init' within 1 s \(--exec-timeout; killed\)$"),
        (
            f"sys.stdout.write(json.dumps({_STATE}) + '\\n' + json.dumps({_STATE}) + '\\n'); sys.stdout.flush()",
            ProgramError,
            "printed more than one line for one request",
        ),
    ],
    ids=["exits", "garbage", "not-an-object", "not-utf8", "error", "bad-state", "hangs", "two-lines"],
)
def test_protocol_breach_is_a_clear_failure(body, error, message):
    start = time.monotonic()
    with SubprocessAdagrad(_program(body), timeout=1, budget=60) as impl:
        with pytest.raises(error, match=message):
            impl.init(PARAMS, HYPER)
            impl.init(PARAMS, HYPER)  # two-lines: the second line is found before this request
    assert time.monotonic() - start < 10


def test_garbage_without_an_end_of_line_is_garbage_at_once():
    """Bytes that cannot start a JSON object fail the case as they arrive, not at the timeout."""
    body = "sys.stdout.write('Traceback: something went wrong'); sys.stdout.flush(); time.sleep(30)"
    with SubprocessAdagrad(_program(body), timeout=20, budget=60) as impl:
        start = time.monotonic()
        with pytest.raises(
            ProgramError, match="not a protocol answer to 'init': \"Traceback: something went wrong\""
        ) as info:
            impl.init(PARAMS, HYPER)
        assert time.monotonic() - start < 10
    assert not isinstance(info.value, ProgramHang)


def test_unfinished_answer_is_named_with_what_was_printed():
    body = "sys.stdout.write('{\"state\": '); sys.stdout.flush(); time.sleep(30)"
    with SubprocessAdagrad(_program(body), timeout=1, budget=60) as impl:
        with pytest.raises(ProgramHang, match=r"printed 10 bytes without an end of line: \"\{\\\"state\\\": \""):
            impl.init(PARAMS, HYPER)


def test_non_utf8_stderr_does_not_stop_the_driver():
    """200 KiB of stderr (more than a pipe holds) starting with bytes that are not UTF-8, before
    every answer: the driver keeps draining it and the answers arrive; the failure message of a
    later breach quotes its tail, decoded leniently."""
    noise = "sys.stderr.buffer.write(b'.' * 200000 + b'\\xff\\xfe\\xc3( bad bytes\\n'); sys.stderr.flush()"
    body = f"{noise}\nif op == 'step': sys.exit(4)\n{ANSWER}"
    with SubprocessAdagrad(_program(body), timeout=10, budget=60) as impl:
        for _ in range(3):
            state = impl.init(PARAMS, HYPER)
            assert state["steps"] == [0]
        with pytest.raises(
            ProgramError, match="exited \\(status 4\\).*its stderr ends: .*\ufffd\ufffd\ufffd\\( bad bytes"
        ) as info:
            impl.step(state, PARAMS, [PARAMS[0]])
    assert len(str(info.value)) < 3000  # the tail is bounded


def test_answer_line_past_the_limit_fails_the_case(monkeypatch):
    monkeypatch.setattr(sp, "MAX_LINE_BYTES", 1 << 20)
    body = "sys.stdout.write('{\"state\": \"' + 'x' * (3 << 20) + '\"}\\n'); sys.stdout.flush()"
    with SubprocessAdagrad(_program(body), timeout=10, budget=60) as impl:
        with pytest.raises(ProgramError, match=f"answer line longer than {1 << 20} bytes"):
            impl.init(PARAMS, HYPER)


def test_line_limit_grows_with_the_request():
    assert sp.line_limit(10) == sp.MAX_LINE_BYTES
    assert sp.line_limit(sp.MAX_LINE_BYTES) == sp.LINE_PER_REQUEST_BYTE * sp.MAX_LINE_BYTES


_MEMORY = """
import resource, sys
from adagrad.conformance.adapters.subprocess_protocol import ProgramError, SubprocessAdagrad, MAX_LINE_BYTES
prog = sys.argv[1]
impl = SubprocessAdagrad(prog, timeout=60, budget=600)
import numpy as np
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
try:
    impl.init([np.array([1.0])], dict(lr=0.1, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10, maximize=False))
except ProgramError as exc:
    message = str(exc)
impl.close()
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(after - before, MAX_LINE_BYTES, message)
"""


def test_endless_line_is_read_within_the_limit():
    """A program printing 600 MiB without an end of line: the driver's peak memory grows by the
    line limit (64 MiB) plus bookkeeping, not by what the program prints (measured in a fresh process)."""
    body = "chunk = '{' + 'x' * (1 << 20)\nfor _ in range(600): sys.stdout.write(chunk)\nsys.stdout.flush()"
    proc = subprocess.run([sys.executable, "-c", _MEMORY, _program(body)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    grown, limit, message = proc.stdout.split(" ", 2)
    assert "answer line longer than" in message
    assert int(grown) < int(limit) * 1.25, (
        f"the driver grew by {int(grown) >> 20} MiB for a {int(limit) >> 20} MiB limit"
    )


def test_budget_spent_is_too_slow_said_as_such():
    body = f"time.sleep(0.4)\n{ANSWER}"
    with SubprocessAdagrad(_program(body), timeout=5, budget=2.5) as impl:
        with pytest.raises(ProgramTooSlow, match=r"(?s)too slow: .*\(--exec-budget 2.5 s;") as info:
            for _ in range(20):
                impl.init(PARAMS, HYPER)
    assert "did not answer" not in str(info.value)
    assert 2.5 <= impl.waited < 3.5  # the last answer was cut at the budget, not at the timeout


def test_slow_answers_within_the_timeout_are_answers():
    body = f"time.sleep(0.6)\n{ANSWER}"
    with SubprocessAdagrad(_program(body), timeout=2, budget=60) as impl:
        for _ in range(3):
            assert impl.init(PARAMS, HYPER)["steps"] == [0]
        assert impl.waited >= 1.8 and impl.hangs == 0


def test_wait_clock_is_published_for_the_watchdog(tmp_path):
    clock = WaitClock(tmp_path, "gw7")
    assert waited_seconds(tmp_path, "gw7", os.getpid()) == 0.0
    clock.start()
    time.sleep(0.3)
    assert waited_seconds(tmp_path, "gw7", os.getpid()) >= 0.3  # a wait in progress counts
    clock.stop()
    first = waited_seconds(tmp_path, "gw7", os.getpid())
    time.sleep(0.2)
    assert waited_seconds(tmp_path, "gw7", os.getpid()) == first >= 0.3  # idle time does not
    assert waited_seconds(tmp_path, "gw7", os.getpid() + 1) == 0.0  # another process's waits are not its own
    assert waited_seconds(tmp_path, "gw8", os.getpid()) == 0.0


def test_bad_command_and_limits_are_usage_errors():
    with pytest.raises(AdapterError, match="cannot be split into words"):
        SubprocessAdagrad("node 'unbalanced")
    with pytest.raises(AdapterError, match="needs a command"):
        SubprocessAdagrad("   ")
    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(AdapterError, match="--exec-timeout must be a positive number of seconds"):
            SubprocessAdagrad("true", timeout=bad)
        with pytest.raises(AdapterError, match="--exec-budget must be a positive number of seconds"):
            SubprocessAdagrad("true", budget=bad)
    with pytest.raises(AdapterError, match="cannot start"):
        SubprocessAdagrad("/no/such/program")


def test_unsupported_answer_and_silent_hello():
    with SubprocessAdagrad(
        _program("print(json.dumps({'unsupported': 'weight decay'}), flush=True)"), timeout=5
    ) as impl:
        with pytest.raises(Unsupported, match="weight decay"):
            impl.init(PARAMS, HYPER)
    with pytest.raises(ProgramSetupError, match="did not answer 'hello'"):
        SubprocessAdagrad(f'{sys.executable} -c "import time; time.sleep(30)"', timeout=1)
    with pytest.raises(ProgramSetupError, match="not a protocol answer to 'hello'"):
        SubprocessAdagrad(f"{sys.executable} -c \"print('hi')\"", timeout=5)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_close_kills_the_programs_whole_group():
    """The program's own child ignores SIGTERM and would outlive it: close() leaves neither."""
    child = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    before = f"import subprocess; kid = subprocess.Popen([sys.executable, '-c', {child!r}])"
    impl = SubprocessAdagrad(
        _program("print(json.dumps({'error': str(kid.pid)}), flush=True)", before=before), timeout=10
    )
    with pytest.raises(ProgramError, match=r"reported an error on 'init': \d+") as info:
        impl.init(PARAMS, HYPER)  # an error answer: the program keeps running
    kid = int(re.search(r"'init': (\d+)", str(info.value)).group(1))
    program = impl._proc.proc.pid
    assert _running(kid) and _running(program)
    impl.close()
    deadline = time.monotonic() + 5
    while (_running(kid) or _running(program)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(kid) and not _running(program)


@needs_node
def test_round_trip_keeps_every_bit():
    """NaN, -0.0 and subnormals cross the protocol unchanged (the fixture encoding)."""
    with SubprocessAdagrad(f"node {EXAMPLES / 'adagrad.mjs'}") as impl:
        p = [np.array([np.nan, -0.0, 5e-324, 1.0])]
        state = impl.init(p, HYPER)
        out, state = impl.step(state, p, [None])
    assert np.array_equal(out[0], p[0], equal_nan=True) and np.signbit(out[0][1])
