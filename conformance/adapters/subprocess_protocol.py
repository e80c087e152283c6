"""The subprocess protocol: an Adagrad in any language, driven over JSON lines on stdin/stdout.

The driver writes one JSON object per line and reads exactly one JSON line back per request
(``docs/protocols.md`` has the full description and examples). Arrays use the fixture encoding
(:mod:`adagrad.fixtures.encoding`: dtype, shape and big-endian hex bit patterns), so every
value, NaN and -0.0 included, crosses exactly. The program is stateless: the state it returns
is sent back with the next step, and must hold ``sums`` (arrays) and ``steps`` (integers);
anything else in it is the program's own business.

    -> {"op": "hello", "protocol": 1}
    <- {"name": "...", "features": ["numerics-float64", ...]}
    -> {"op": "init", "params": [ARRAY...], "hyperparameters": {"lr": 0.01, ...}}
    <- {"state": {"sums": [ARRAY...], "steps": [0, ...], ...}}
    -> {"op": "step", "state": STATE, "params": [ARRAY...], "grads": [ARRAY or null, ...]}
    <- {"params": [ARRAY...], "state": STATE}
    -> {"op": "set_hyperparameters", "state": STATE, "hyperparameters": {...}}   (lr-schedule only)
    <- {"state": STATE}

Any answer may instead be ``{"unsupported": "reason"}`` (reported as unsupported) or
``{"error": "message"}`` (a failure). Everything else the program does is a failure of the case
that says what happened, in bounded time and memory:

- it exits: "exited (status N)", with the last lines of its stderr;
- it prints something that is not a JSON object: "not a protocol answer: <its first 200
  bytes>" (at once when the line cannot start a JSON object, without waiting for its end);
- an answer line longer than :func:`line_limit` bytes: "answer line longer than N bytes" (read
  in chunks, never held past the limit);
- no answer within ``timeout`` seconds: killed, "did not answer"; after :data:`MAX_HANGS` such
  hangs it is not restarted;
- the run's answers took longer than ``budget`` seconds in all: "too slow".

The running program (pipes, bounded reads, kills) is :mod:`.exec_process`; the array encoding,
the failures and the quoting of what a program printed are :mod:`.exec_messages`.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from adagrad.conformance.adapters.base import AdapterError, Unsupported
from adagrad.conformance.adapters.exec_clock import BUDGET_PER_EXAMPLE, BUDGET_VARIABLE, WaitClock
from adagrad.conformance.adapters.exec_messages import (
    ProgramError,
    ProgramHang,
    ProgramSetupError,
    ProgramTooSlow,
    answer_state,
    decode,
    encode,
    quote,
    short,
)
from adagrad.conformance.adapters.exec_process import ProgramProcess
from adagrad.conformance.pytest_plugin import run_state

__all__ = [
    "MAX_HANGS",
    "MAX_LINE_BYTES",
    "PROTOCOL_VERSION",
    "ProgramError",
    "ProgramHang",
    "ProgramSetupError",
    "ProgramTooSlow",
    "SubprocessAdagrad",
    "decode",
    "encode",
    "line_limit",
]

PROTOCOL_VERSION = 1
#: Hangs after which the program is not restarted: each costs a whole timeout.
MAX_HANGS = 3
#: An answer line may hold this many bytes, or :data:`LINE_PER_REQUEST_BYTE` times the request's
#: length if that is more (an answer holds about as many arrays as its request).
MAX_LINE_BYTES = 64 * 2**20
LINE_PER_REQUEST_BYTE = 4


def line_limit(request_bytes: int) -> int:
    """The longest answer line accepted for a request of ``request_bytes`` bytes."""
    return max(MAX_LINE_BYTES, LINE_PER_REQUEST_BYTE * request_bytes)


_CLOCK: WaitClock | None = None


def _clock() -> WaitClock:
    """This process's clock of program waits (published for ``check``'s watchdog)."""
    global _CLOCK
    if _CLOCK is None:
        _CLOCK = WaitClock(run_state.state_dir(), run_state.worker_name())
    return _CLOCK


def _default_budget() -> float:
    """``$ADAGRAD_EXEC_BUDGET`` (``check --exec-budget``), else by the hypothesis profile in use."""
    value = os.environ.get(BUDGET_VARIABLE)
    if value:
        return _positive(f"${BUDGET_VARIABLE}", value)
    from hypothesis import settings

    return BUDGET_PER_EXAMPLE * settings.default.max_examples


def _positive(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise AdapterError(f"{name} must be a number of seconds, got {value!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise AdapterError(f"{name} must be a positive number of seconds, got {value}")
    return value


class SubprocessAdagrad:
    """A :class:`~.functional.FunctionalAdagrad` whose work is done by an external program.

    Args:
        command: the program and its arguments, split as a POSIX shell would (no shell runs).
        timeout: seconds the program may take to answer one request (``--exec-timeout``).
        budget: seconds its answers may take in all, over the run (``--exec-budget``); default
            ``$ADAGRAD_EXEC_BUDGET``, else 150 s per example of the hypothesis profile in use.

    Raises:
        AdapterError: the command cannot be split or started, or a time limit is not a positive
            finite number (a usage error).
        ProgramSetupError: the program does not answer ``hello`` with a list of features.
    """

    def __init__(self, command: str, *, timeout: float = 10.0, budget: float | None = None) -> None:
        try:
            self.argv = shlex.split(command)
        except ValueError as exc:
            raise AdapterError(f"--exec {command!r} cannot be split into words: {exc}") from None
        if not self.argv:
            raise AdapterError("--exec needs a command")
        self.command = command
        self.timeout = _positive("--exec-timeout", timeout)
        self.budget = _positive("--exec-budget", _default_budget() if budget is None else budget)
        self.hangs = 0
        self.answers = 0
        self.waited = 0.0  # seconds this object waited for answers
        self._clock = _clock()
        self._inherited = self._clock.inherited  # earlier processes of this worker, this run
        self._proc: ProgramProcess | None = None
        hello = self._request({"op": "hello", "protocol": PROTOCOL_VERSION}, setup=True)
        features = hello.get("features")
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise ProgramSetupError(f"`{command}` answered hello without a list of features: {short(hello)}")
        self.name = str(hello.get("name", command))
        self.features = frozenset(features)

    def __enter__(self) -> SubprocessAdagrad:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ------------------------------------------------------------------------------
    def _request(self, message: Mapping[str, Any], *, setup: bool = False) -> dict[str, Any]:
        """Send one message, return the answer; every protocol breach raises with what happened."""
        fail = ProgramSetupError if setup else ProgramError
        op = message["op"]
        if self.hangs >= MAX_HANGS:
            raise fail(
                f"`{short(self.command, 160)}` hung {self.hangs} times in this run (no answer within "
                f"{self.timeout:g} s, --exec-timeout); not restarted"
            )
        left = self.budget - (self._inherited + self.waited)
        if left <= 0:
            raise (fail if setup else ProgramTooSlow)(self._too_slow(op))
        if self._proc is None or not self._proc.alive():
            if self._proc is not None:
                self._proc.kill()
            self._proc = ProgramProcess(self.argv)
        proc = self._proc
        request = (json.dumps(message) + "\n").encode()
        limit = line_limit(len(request))
        by_budget = left < self.timeout
        self._clock.start()
        try:
            reply = proc.exchange(request, time.monotonic() + min(self.timeout, left), limit)
        finally:
            spent = self._clock.stop()
            self.waited += spent
        name = f"`{short(self.command, 160)}`"
        if reply.kind == "timeout":
            proc.kill()
            if by_budget:
                raise (fail if setup else ProgramTooSlow)(self._too_slow(op, cut=True))
            self.hangs += 1
            partial = (
                f"; it printed {reply.seen} bytes without an end of line: {quote(reply.data, reply.seen)}"
                if reply.seen
                else ""
            )
            raise (fail if setup else ProgramHang)(
                f"{name} did not answer {op!r} within {self.timeout:g} s (--exec-timeout; killed)"
                f"{partial}{proc.stderr_tail()}"
            )
        if reply.kind == "eof":
            status = proc.exit_status()
            proc.kill()
            how = f"exited (status {status})" if status is not None else "closed its stdout"
            partial = f" after printing {quote(reply.data, reply.seen)} without an end of line" if reply.seen else ""
            raise fail(f"{name} {how} instead of answering {op!r}{partial}{proc.stderr_tail()}")
        if reply.kind == "too-long":
            proc.kill()
            raise fail(
                f"{name} answered {op!r} with an answer line longer than {limit} bytes "
                f"(killed after {reply.seen} bytes); it begins {quote(reply.data, reply.seen)}"
            )
        if reply.kind == "extra":
            proc.kill()
            raise fail(
                f"{name} printed more than one line for one request (found before {op!r} was sent: "
                f"{quote(reply.data, reply.seen)}); killed"
            )
        if reply.kind == "garbage":
            proc.kill()
            raise fail(
                f"{name} printed something that is not a protocol answer to {op!r}: {quote(reply.data, reply.seen)}"
            )
        self.answers += 1
        try:
            answer = json.loads(reply.data)
        except ValueError:  # not JSON, or not UTF-8
            proc.kill()
            raise fail(
                f"{name} printed something that is not a protocol answer to {op!r}: {quote(reply.data)}"
            ) from None
        if "unsupported" in answer:
            raise Unsupported(short(str(answer["unsupported"])))
        if "error" in answer:
            raise fail(f"{name} reported an error on {op!r}: {short(str(answer['error']), 2000)}")
        return answer

    def _too_slow(self, op: str, cut: bool = False) -> str:
        total = self._inherited + self.waited
        mean = f", {self.waited / self.answers:.2g} s per answer on average" if self.answers else ""
        what = f"spent while it answered {op!r} (killed)" if cut else f"spent; {op!r} not asked"
        return (
            f"too slow: `{short(self.command, 160)}` took {total:.1f} s answering in this run, its whole budget "
            f"(--exec-budget {self.budget:g} s; {self.answers} answers here{mean}): {what}"
        )

    # -- the functional protocol ----------------------------------------------------------------
    def init(self, params: Sequence[np.ndarray], hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
        """Ask the program for a fresh state."""
        answer = self._request(
            {"op": "init", "params": [encode(p) for p in params], "hyperparameters": dict(hyperparameters)}
        )
        return answer_state(answer, "init", len(params))

    def step(
        self, state: dict[str, Any], params: Sequence[np.ndarray], grads: Sequence[np.ndarray | None]
    ) -> tuple[list[np.ndarray], dict[str, Any]]:
        """One step done by the program; params come back in their own dtype."""
        answer = self._request(
            {
                "op": "step",
                "state": state,
                "params": [encode(p) for p in params],
                "grads": [None if g is None else encode(g) for g in grads],
            }
        )
        new = answer.get("params")
        if not isinstance(new, list) or len(new) != len(params):
            raise ProgramError(f"answer to 'step' must hold {len(params)} params: {short(answer)}")
        out = [decode(x, np.asarray(p).dtype) for x, p in zip(new, params)]
        return out, answer_state(answer, "step", len(params))

    def accumulators(self, state: dict[str, Any]) -> list[np.ndarray]:
        """The sums the program returned in its state."""
        return [decode(s) for s in state["sums"]]

    def step_counts(self, state: dict[str, Any]) -> list[int]:
        """The step counts the program returned in its state."""
        counts = state["steps"]
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in counts):
            raise ProgramError(f"state steps must be integers, got {short(counts)}")
        return counts

    def load(self, state: dict[str, Any], sums: Sequence[np.ndarray], steps: Sequence[int]) -> dict[str, Any]:
        """Teacher forcing: the state is transparent, so the driver writes sums and steps itself."""
        return {**state, "sums": [encode(s) for s in sums], "steps": [int(t) for t in steps]}

    def set_hyperparameters(self, state: dict[str, Any], hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
        """Hyperparameters changed between steps (only for programs that claim lr-schedule)."""
        answer = self._request({"op": "set_hyperparameters", "state": state, "hyperparameters": dict(hyperparameters)})
        return answer_state(answer, "set_hyperparameters", len(state["sums"]))

    def close(self) -> None:
        """Stop the program (SIGKILL to its process group)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc = None
