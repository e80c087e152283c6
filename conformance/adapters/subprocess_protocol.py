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

Output is read as bytes: stderr is kept as a bounded tail and decoded leniently, so nothing the
program writes there can stop the driver. The program runs in its own session (process group);
every kill is SIGKILL to the whole group, so nothing it started outlives it.
"""

from __future__ import annotations

import json
import math
import os
import selectors
import shlex
import signal
import subprocess
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from adagrad.conformance.adapters.base import AdapterError, Unsupported
from adagrad.conformance.adapters.exec_clock import BUDGET_PER_EXAMPLE, BUDGET_VARIABLE, WaitClock
from adagrad.conformance.engine.harness import ConformanceFailure
from adagrad.conformance.pytest_plugin import run_state
from adagrad.fixtures.encoding import decode_array, encode_array

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
#: Environment variable naming the directory the program runs in (the runner sets it).
EXEC_CWD_VARIABLE = "ADAGRAD_EXEC_CWD"
#: Hangs after which the program is not restarted: each costs a whole timeout.
MAX_HANGS = 3
#: An answer line may hold this many bytes, or :data:`LINE_PER_REQUEST_BYTE` times the request's
#: length if that is more (an answer holds about as many arrays as its request).
MAX_LINE_BYTES = 64 * 2**20
LINE_PER_REQUEST_BYTE = 4
#: Bytes of the program's stderr kept (the end of it), for failure messages.
STDERR_TAIL_BYTES = 16384
_CHUNK = 1 << 16
_QUOTED = 200  # bytes of a bad answer quoted in its failure


class ProgramError(ConformanceFailure):
    """The program broke the protocol: exited, hung, or printed something that is not an answer."""


class ProgramHang(ProgramError):
    """The program did not answer within the time limit (it was killed)."""


class ProgramTooSlow(ProgramError):
    """The program's answers used up the run's time budget (``--exec-budget``)."""


class ProgramSetupError(AdapterError):
    """The program started but did not answer ``hello`` properly: it fails the check (exit 1)."""


def encode(x: np.ndarray) -> dict[str, Any]:
    """A NumPy array (bfloat16 as ml_dtypes) in the fixture encoding."""
    x = np.asarray(x)
    held = x.astype(np.float32) if x.dtype.name == "bfloat16" else x  # the fixtures hold bfloat16 in float32
    return encode_array(held, x.dtype.name)


def decode(obj: Any, dtype: np.dtype | None = None) -> np.ndarray:
    """An array from the fixture encoding; with ``dtype``, it must be of that dtype."""
    if not isinstance(obj, dict) or not {"dtype", "shape", "hex"} <= set(obj):
        raise ProgramError(f"expected an array object {{dtype, shape, hex}}, got {_short(obj)}")
    try:
        x = decode_array(obj)
    except (ValueError, KeyError, TypeError) as exc:
        raise ProgramError(f"malformed array {_short(obj)}: {exc}") from None
    if obj["dtype"] == "bfloat16":
        import ml_dtypes

        x = x.astype(ml_dtypes.bfloat16)
    if dtype is not None and x.dtype != dtype:
        raise ProgramError(f"returned a {x.dtype} array where {dtype} was expected")
    return x


def line_limit(request_bytes: int) -> int:
    """The longest answer line accepted for a request of ``request_bytes`` bytes."""
    return max(MAX_LINE_BYTES, LINE_PER_REQUEST_BYTE * request_bytes)


def _short(obj: Any, limit: int = _QUOTED) -> str:
    text = obj if isinstance(obj, str) else json.dumps(obj, default=str)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _quote(data: bytes, total: int | None = None) -> str:
    """The first bytes of what the program printed, decoded leniently and escaped (one line)."""
    total = len(data) if total is None else total
    text = json.dumps(data[:_QUOTED].decode("utf-8", errors="replace"))
    return text + (f" ... ({total} bytes)" if total > _QUOTED else "")


def _head(chunks: list[bytes]) -> bytes:
    """The first bytes of a partial answer held in chunks (without joining all of them)."""
    head = b""
    for chunk in chunks:
        head += chunk[: _QUOTED - len(head)]
        if len(head) >= _QUOTED:
            break
    return head


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the program's process group (it is a session leader), reap it, close the pipes."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:  # the group is gone already (or the platform has none): kill the one process
        if proc.poll() is None:
            proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a SIGKILLed process does not linger
        pass
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        try:
            if pipe is not None:
                pipe.close()
        except OSError:
            pass


@dataclass
class _Reply:
    """What one exchange produced."""

    kind: str  # line, eof, timeout, too-long, garbage or extra
    data: bytes = b""
    seen: int = 0  # bytes of the answer read (too-long, garbage, timeout, extra)


class _Process:
    """One running program: non-blocking pipes, stdout read in chunks, a bounded stderr tail."""

    def __init__(self, argv: list[str]) -> None:
        try:
            # the runner's pytest runs in a scratch directory: relative paths mean the user's directory
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,
                cwd=os.environ.get(EXEC_CWD_VARIABLE) or None,
                start_new_session=True,
            )
        except OSError as exc:
            raise AdapterError(f"cannot start {shlex.join(argv)}: {exc}") from None
        # killed at the latest when this object goes away or the interpreter exits
        self._finalizer = weakref.finalize(self, _kill_group, self.proc)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            os.set_blocking(pipe.fileno(), False)
        self.pending = b""  # stdout read past the last answer line (at most one chunk)
        self.stderr = bytearray()
        self.open = {"stdout": True, "stderr": True, "stdin": True}
        #: False once an answer came before the whole request was written: the streams no longer pair up
        self.in_step = True

    def exchange(self, request: bytes, deadline: float, limit: int) -> _Reply:
        """Write ``request``, read one answer line; never blocks past ``deadline``."""
        out, err, inp = self.proc.stdout, self.proc.stderr, self.proc.stdin
        if not self.pending and self.open["stdout"]:
            try:  # output that arrived since the last answer: it answers nothing
                self.pending = os.read(out.fileno(), _CHUNK)
            except OSError:  # BlockingIOError: nothing there
                pass
        if self.pending:  # printed before this request was sent: it answers nothing
            self.in_step = False
            return _Reply("extra", self.pending[:_QUOTED], len(self.pending))
        sel = selectors.DefaultSelector()
        written = 0
        if self.open["stdin"]:
            sel.register(inp, selectors.EVENT_WRITE)
        if self.open["stdout"]:
            sel.register(out, selectors.EVENT_READ)
        if self.open["stderr"]:
            sel.register(err, selectors.EVENT_READ)
        chunks: list[bytes] = []
        seen = 0
        started = False  # a non-blank byte of the answer was seen
        data = b""
        try:
            while True:
                if data:
                    end = data.find(b"\n")
                    piece = data if end < 0 else data[:end]
                    if not started and piece.strip():
                        started = True
                        if not piece.lstrip().startswith(b"{"):  # cannot be a JSON object: garbage now
                            return _Reply("garbage", _head([*chunks, piece]), seen + len(piece))
                    if seen + len(piece) > limit:
                        return _Reply("too-long", _head(chunks), seen + len(piece))
                    seen += len(piece)
                    if end >= 0:
                        self.pending = data[end + 1 :]
                        if written < len(request):
                            self.in_step = False
                        return _Reply("line", b"".join(chunks) + piece)
                    chunks.append(piece)
                    data = b""
                if not sel.get_map():  # every pipe closed and no line: the program is gone
                    return _Reply("eof", _head(chunks), seen)
                left = deadline - time.monotonic()
                if left <= 0:
                    return _Reply("timeout", _head(chunks), seen)
                for key, _ in sel.select(left):
                    if key.fileobj is inp:
                        try:
                            written += os.write(inp.fileno(), request[written : written + _CHUNK])
                        except BlockingIOError:
                            continue
                        except OSError:  # the program closed its stdin (or exited): reading says how
                            self.open["stdin"] = False
                            sel.unregister(inp)
                            continue
                        if written >= len(request):
                            sel.unregister(inp)
                    elif key.fileobj is out:
                        got = self._read(out, "stdout", sel)
                        if got is None:  # end of stdout: the program is gone, its stderr may say why
                            self._drain_stderr(sel)
                            return _Reply("eof", _head(chunks), seen)
                        data = got
                    else:
                        got = self._read(err, "stderr", sel)
                        if got:
                            self.stderr += got
                            del self.stderr[:-STDERR_TAIL_BYTES]
        finally:
            sel.close()

    def _read(self, pipe: Any, name: str, sel: selectors.BaseSelector) -> bytes | None:
        """One chunk; b"" if nothing was ready, None at the end of the stream."""
        try:
            got = os.read(pipe.fileno(), _CHUNK)
        except BlockingIOError:
            return b""
        except OSError:
            got = b""
        if not got:
            self.open[name] = False
            sel.unregister(pipe)
            return None
        return got

    def _drain_stderr(self, sel: selectors.BaseSelector, seconds: float = 1.0) -> None:
        """After stdout ended: what the program still writes on stderr (why it exited, usually)."""
        if not self.open["stderr"]:
            return
        deadline = time.monotonic() + seconds
        err = self.proc.stderr
        for key in list(sel.get_map().values()):  # stdin would be "ready" all the time
            if key.fileobj is not err:
                sel.unregister(key.fileobj)
        while self.open["stderr"] and time.monotonic() < deadline:
            if sel.select(deadline - time.monotonic()):
                got = self._read(err, "stderr", sel)
                if got:
                    self.stderr += got
                    del self.stderr[:-STDERR_TAIL_BYTES]

    def exit_status(self, wait: float = 2.0) -> int | None:
        """The program's exit status, waiting a little for it; None if it is still running."""
        try:
            return self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            return None

    def alive(self) -> bool:
        return self.proc.poll() is None and self.open["stdout"] and self.in_step

    def stderr_tail(self) -> str:
        text = bytes(self.stderr).decode("utf-8", errors="replace")
        lines = [ln.strip()[-300:] for ln in text.splitlines() if ln.strip()]  # a line's end says most
        tail = " | ".join(lines[-5:])
        return f"; its stderr ends: {tail}" if tail else ""

    def kill(self) -> None:
        """SIGKILL the program and everything in its process group."""
        self._finalizer()


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
        self._proc: _Process | None = None
        hello = self._request({"op": "hello", "protocol": PROTOCOL_VERSION}, setup=True)
        features = hello.get("features")
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise ProgramSetupError(f"`{command}` answered hello without a list of features: {_short(hello)}")
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
                f"`{_short(self.command, 160)}` hung {self.hangs} times in this run (no answer within "
                f"{self.timeout:g} s, --exec-timeout); not restarted"
            )
        left = self.budget - (self._inherited + self.waited)
        if left <= 0:
            raise (fail if setup else ProgramTooSlow)(self._too_slow(op))
        if self._proc is None or not self._proc.alive():
            if self._proc is not None:
                self._proc.kill()
            self._proc = _Process(self.argv)
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
        name = f"`{_short(self.command, 160)}`"
        if reply.kind == "timeout":
            proc.kill()
            if by_budget:
                raise (fail if setup else ProgramTooSlow)(self._too_slow(op, cut=True))
            self.hangs += 1
            partial = (
                f"; it printed {reply.seen} bytes without an end of line: {_quote(reply.data, reply.seen)}"
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
            partial = f" after printing {_quote(reply.data, reply.seen)} without an end of line" if reply.seen else ""
            raise fail(f"{name} {how} instead of answering {op!r}{partial}{proc.stderr_tail()}")
        if reply.kind == "too-long":
            proc.kill()
            raise fail(
                f"{name} answered {op!r} with an answer line longer than {limit} bytes "
                f"(killed after {reply.seen} bytes); it begins {_quote(reply.data, reply.seen)}"
            )
        if reply.kind == "extra":
            proc.kill()
            raise fail(
                f"{name} printed more than one line for one request (found before {op!r} was sent: "
                f"{_quote(reply.data, reply.seen)}); killed"
            )
        if reply.kind == "garbage":
            proc.kill()
            raise fail(
                f"{name} printed something that is not a protocol answer to {op!r}: {_quote(reply.data, reply.seen)}"
            )
        self.answers += 1
        try:
            answer = json.loads(reply.data)
        except ValueError:  # not JSON, or not UTF-8
            proc.kill()
            raise fail(
                f"{name} printed something that is not a protocol answer to {op!r}: {_quote(reply.data)}"
            ) from None
        if "unsupported" in answer:
            raise Unsupported(_short(str(answer["unsupported"])))
        if "error" in answer:
            raise fail(f"{name} reported an error on {op!r}: {_short(str(answer['error']), 2000)}")
        return answer

    def _too_slow(self, op: str, cut: bool = False) -> str:
        total = self._inherited + self.waited
        mean = f", {self.waited / self.answers:.2g} s per answer on average" if self.answers else ""
        what = f"spent while it answered {op!r} (killed)" if cut else f"spent; {op!r} not asked"
        return (
            f"too slow: `{_short(self.command, 160)}` took {total:.1f} s answering in this run, its whole budget "
            f"(--exec-budget {self.budget:g} s; {self.answers} answers here{mean}): {what}"
        )

    def _state(self, answer: dict[str, Any], op: str, n: int) -> dict[str, Any]:
        state = answer.get("state")
        if (
            not isinstance(state, dict)
            or not isinstance(state.get("sums"), list)
            or not isinstance(state.get("steps"), list)
        ):
            raise ProgramError(f"answer to {op!r} has no state with sums and steps: {_short(answer)}")
        if len(state["sums"]) != n or len(state["steps"]) != n:
            raise ProgramError(
                f"answer to {op!r}: state has {len(state['sums'])} sums and {len(state['steps'])} steps "
                f"for {n} parameters"
            )
        return state

    # -- the functional protocol ----------------------------------------------------------------
    def init(self, params: Sequence[np.ndarray], hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
        """Ask the program for a fresh state."""
        answer = self._request(
            {"op": "init", "params": [encode(p) for p in params], "hyperparameters": dict(hyperparameters)}
        )
        return self._state(answer, "init", len(params))

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
            raise ProgramError(f"answer to 'step' must hold {len(params)} params: {_short(answer)}")
        out = [decode(x, np.asarray(p).dtype) for x, p in zip(new, params)]
        return out, self._state(answer, "step", len(params))

    def accumulators(self, state: dict[str, Any]) -> list[np.ndarray]:
        """The sums the program returned in its state."""
        return [decode(s) for s in state["sums"]]

    def step_counts(self, state: dict[str, Any]) -> list[int]:
        """The step counts the program returned in its state."""
        counts = state["steps"]
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in counts):
            raise ProgramError(f"state steps must be integers, got {_short(counts)}")
        return counts

    def load(self, state: dict[str, Any], sums: Sequence[np.ndarray], steps: Sequence[int]) -> dict[str, Any]:
        """Teacher forcing: the state is transparent, so the driver writes sums and steps itself."""
        return {**state, "sums": [encode(s) for s in sums], "steps": [int(t) for t in steps]}

    def set_hyperparameters(self, state: dict[str, Any], hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
        """Hyperparameters changed between steps (only for programs that claim lr-schedule)."""
        answer = self._request({"op": "set_hyperparameters", "state": state, "hyperparameters": dict(hyperparameters)})
        return self._state(answer, "set_hyperparameters", len(state["sums"]))

    def close(self) -> None:
        """Stop the program (SIGKILL to its process group)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc = None
