"""The oracle's process: runs the oracle and the comparison apart from any target code.

A test process (a pytest worker that imports the target) starts one service with
:func:`OracleClient.start` before the target is imported, from a clean copy of the environment,
and asks it to judge each case: the request carries the case and the target's trajectory as bit
patterns (:mod:`.codec`), the answer is the comparison's result (:func:`.comparison.compare_trajectory`).

With ``ADAGRAD_CONFORMANCE_STATE`` set (the ``check`` command sets it), the service also writes
a journal of its own verdicts per test, which the command uses as the authority on what failed,
and the failing cases themselves (bounded) for the diagnosis.

Frames on stdin/stdout: 8-byte big-endian length, then UTF-8 JSON.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["OracleClient", "OracleUnavailable", "main"]

#: Failing cases kept for the diagnosis, per service, and the largest case kept (elements x steps).
MAX_RECORDS, MAX_RECORD_SIZE = 40, 50_000


class OracleUnavailable(RuntimeError):
    """The oracle's process died or answered garbage: an infrastructure problem, not the target's."""


def _write(stream: BinaryIO, obj: Any) -> None:
    data = json.dumps(obj).encode()
    stream.write(struct.pack(">Q", len(data)) + data)
    stream.flush()


def _read(stream: BinaryIO) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError
    (n,) = struct.unpack(">Q", head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError
    return json.loads(data)


class OracleClient:
    """A handle on a running oracle service (one per test process)."""

    _lock = threading.Lock()
    _current: OracleClient | None = None

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc

    @classmethod
    def start(cls, env: dict[str, str] | None = None) -> OracleClient:
        """Start the service (once per process); later calls return the running one."""
        with cls._lock:
            if cls._current is None or cls._current.proc.poll() is not None:
                cmd = [sys.executable, "-m", "adagrad.conformance.engine.oracle_service"]
                proc = subprocess.Popen(
                    cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=dict(env if env is not None else os.environ)
                )
                cls._current = cls(proc)
            return cls._current

    @classmethod
    def stop(cls) -> None:
        """Stop this process's service (its journal is complete: every answer was written first)."""
        with cls._lock:
            if cls._current is not None:
                cls._current.close()
                cls._current = None

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one request and return the answer; raises :class:`OracleUnavailable`."""
        with self._lock:
            try:
                assert self.proc.stdin is not None and self.proc.stdout is not None
                _write(self.proc.stdin, message)
                answer = _read(self.proc.stdout)
            except (OSError, EOFError, ValueError) as exc:
                raise OracleUnavailable(
                    f"the oracle's process stopped answering ({type(exc).__name__}: {exc})"
                ) from None
        if "error" in answer:
            raise OracleUnavailable(f"the oracle's process failed: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # end of requests: the service exits by itself
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


class _Journal:
    """Per-service files in the state directory: verdicts per test and failing cases."""

    def __init__(self, state: str | None) -> None:
        self.dir = Path(state) if state else None
        self.records = 0

    def write(self, request: dict[str, Any], result: dict[str, Any]) -> None:
        if self.dir is None or not request.get("test_id"):
            return
        failed = result["failure"] is not None
        line = {
            "test": request["test_id"],
            "failed": failed,
            "size": result["size"],
            "statement": result["failure"]["statement"] if failed else None,
        }
        with open(self.dir / f"oracle-{os.getpid()}.jsonl", "a") as f:
            f.write(json.dumps(line) + "\n")
        if failed and self.records < MAX_RECORDS and result["size"] <= MAX_RECORD_SIZE:
            self.records += 1
            rec = {"test_id": request["test_id"], "case": request["case"], "trajectory": request["trajectory"]}
            with open(self.dir / f"records-{os.getpid()}.jsonl", "a") as f:
                f.write(json.dumps(rec) + "\n")


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    """Answer requests until the input closes."""
    from adagrad.conformance.engine.codec import decode_case, decode_trajectory
    from adagrad.conformance.engine.comparison import compare_trajectory

    journal = _Journal(os.environ.get("ADAGRAD_CONFORMANCE_STATE"))
    while True:
        try:
            request = _read(inp)
        except EOFError:
            return
        try:
            if request.get("op") == "ping":
                _write(out, {"pong": True})
                continue
            case = decode_case(request["case"])
            result = compare_trajectory(case, decode_trajectory(request["trajectory"]))
            journal.write(request, result)
            _write(out, result)
        except Exception as exc:  # a bug of the suite: say so, keep serving
            _write(out, {"error": f"{type(exc).__name__}: {exc}"})


def main() -> None:
    serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
