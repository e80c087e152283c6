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
``{"error": "message"}`` (a failure). A program that exits, stays silent longer than the
timeout, or prints a line that is not such an object fails the case with that said, and is
restarted for the next one; after three hangs it is not restarted any more.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import shlex
import subprocess
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from adagrad.fixtures.encoding import decode_array, encode_array

from ..harness import ConformanceFailure
from .base import AdapterError, Unsupported

__all__ = ["PROTOCOL_VERSION", "ProgramError", "ProgramHang", "ProgramSetupError", "SubprocessAdagrad", "decode", "encode"]

PROTOCOL_VERSION = 1
#: Environment variable naming the directory the program runs in (the runner sets it).
EXEC_CWD_VARIABLE = "ADAGRAD_EXEC_CWD"
#: Hangs after which the program is not restarted: each costs a whole timeout.
MAX_HANGS = 3


class ProgramError(ConformanceFailure):
    """The program broke the protocol: exited, hung, or printed something that is not an answer."""


class ProgramHang(ProgramError):
    """The program did not answer within the time limit (it was killed)."""


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


def _short(obj: Any, limit: int = 200) -> str:
    text = obj if isinstance(obj, str) else json.dumps(obj, default=str)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


class _Process:
    """One running program: a line reader with a timeout, stderr kept for error messages."""

    def __init__(self, argv: list[str]) -> None:
        try:
            # the runner's pytest runs in a scratch directory: relative paths mean the user's directory
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True, bufsize=1, cwd=os.environ.get(EXEC_CWD_VARIABLE) or None)
        except OSError as exc:
            raise AdapterError(f"cannot start {shlex.join(argv)}: {exc}") from None
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: collections.deque[str] = collections.deque(maxlen=20)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of stdout: the program is gone

    def _read_stderr(self) -> None:  # drained so that a chatty program never blocks on a full pipe
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    def stderr_tail(self) -> str:
        tail = " | ".join(list(self.stderr)[-5:])
        return f"; its stderr ends: {tail}" if tail else ""

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class SubprocessAdagrad:
    """A :class:`~.functional.FunctionalAdagrad` whose work is done by an external program.

    Args:
        command: the program and its arguments, split as a POSIX shell would (no shell runs).
        timeout: seconds the program may take to answer one request.
    """

    def __init__(self, command: str, *, timeout: float = 10.0) -> None:
        self.argv = shlex.split(command)
        if not self.argv:
            raise AdapterError("--exec needs a command")
        self.command = command
        self.timeout = timeout
        self.hangs = 0
        self._proc: _Process | None = None
        hello = self._request({"op": "hello", "protocol": PROTOCOL_VERSION}, setup=True)
        features = hello.get("features")
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise ProgramSetupError(f"`{command}` answered hello without a list of features: {_short(hello)}")
        self.name = str(hello.get("name", command))
        self.features = frozenset(features)

    # -- transport ------------------------------------------------------------------------------
    def _request(self, message: Mapping[str, Any], *, setup: bool = False) -> dict[str, Any]:
        """Send one message, return the answer; every protocol breach raises with what happened."""
        fail = ProgramSetupError if setup else ProgramError
        if self.hangs >= MAX_HANGS:
            raise fail(f"`{self.command}` hung {self.hangs} times in this run; not restarted")
        if self._proc is None or self._proc.proc.poll() is not None:
            self._proc = _Process(self.argv)
        proc = self._proc
        try:
            proc.proc.stdin.write(json.dumps(message) + "\n")
            proc.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the program is gone: reading says how it ended
        try:
            line = proc.lines.get(timeout=self.timeout)
        except queue.Empty:
            proc.kill()
            self.hangs += 1
            hang = ProgramSetupError if setup else ProgramHang
            raise hang(f"`{self.command}` did not answer {message['op']!r} within {self.timeout:g} s (killed){proc.stderr_tail()}") from None
        if line is None:
            status = proc.proc.wait()
            raise fail(f"`{self.command}` exited (status {status}) instead of answering {message['op']!r}{proc.stderr_tail()}")
        try:
            answer = json.loads(line)
        except json.JSONDecodeError:
            proc.kill()
            raise fail(f"`{self.command}` printed a line that is not JSON in answer to {message['op']!r}: {_short(line)}") from None
        if not isinstance(answer, dict):
            proc.kill()
            raise fail(f"`{self.command}` answered {message['op']!r} with {_short(answer)}, not a JSON object")
        if "unsupported" in answer:
            raise Unsupported(str(answer["unsupported"]))
        if "error" in answer:
            raise fail(f"`{self.command}` reported an error on {message['op']!r}: {answer['error']}")
        return answer

    def _state(self, answer: dict[str, Any], op: str, n: int) -> dict[str, Any]:
        state = answer.get("state")
        if not isinstance(state, dict) or not isinstance(state.get("sums"), list) or not isinstance(state.get("steps"), list):
            raise ProgramError(f"answer to {op!r} has no state with sums and steps: {_short(answer)}")
        if len(state["sums"]) != n or len(state["steps"]) != n:
            raise ProgramError(f"answer to {op!r}: state has {len(state['sums'])} sums and {len(state['steps'])} steps for {n} parameters")
        return state

    # -- the functional protocol ----------------------------------------------------------------
    def init(self, params: Sequence[np.ndarray], hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
        """Ask the program for a fresh state."""
        answer = self._request({"op": "init", "params": [encode(p) for p in params], "hyperparameters": dict(hyperparameters)})
        return self._state(answer, "init", len(params))

    def step(self, state: dict[str, Any], params: Sequence[np.ndarray], grads: Sequence[np.ndarray | None]) -> tuple[list[np.ndarray], dict[str, Any]]:
        """One step done by the program; params come back in their own dtype."""
        answer = self._request({"op": "step", "state": state, "params": [encode(p) for p in params],
                                "grads": [None if g is None else encode(g) for g in grads]})
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
        """Stop the program."""
        if self._proc is not None:
            self._proc.kill()
            self._proc = None
