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

import hashlib
import json
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["MAX_RECORDS", "OracleClient", "OracleUnavailable", "kept_records", "main"]

#: Failing cases kept for the diagnosis per service (its smallest, one per test: at least as many
#: as the diagnosis replays, so the run's smallest are kept however the tests were scheduled), and
#: the largest case kept (elements x steps).
MAX_RECORDS, MAX_RECORD_SIZE = 100, 50_000


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
    """Per-service files in the state directory: verdicts per test and failing cases.

    Failing cases are kept one per test, the smallest (ties: the first), in a file each
    (``record-<pid>-<hash of the test>.json``, replaced atomically), at most :data:`MAX_RECORDS`
    of them, the smallest by (size, test id): which cases the diagnosis sees does not depend on
    which process ran which test, nor in what order.
    """

    def __init__(self, state: str | None) -> None:
        self.dir = Path(state) if state else None
        self.kept: dict[str, tuple[tuple[int, str], Path]] = {}  # test -> ((size, test), its file)

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
        if failed and result["size"] <= MAX_RECORD_SIZE:
            self._keep(request, int(result["size"]))

    def _keep(self, request: dict[str, Any], size: int) -> None:
        test = request["test_id"]
        key = (size, test)
        mine = self.kept.get(test)
        if mine is not None and mine[0] <= key:
            return
        if mine is None and len(self.kept) >= MAX_RECORDS:
            worst = max(self.kept, key=lambda t: self.kept[t][0])
            if self.kept[worst][0] <= key:
                return
            self.kept.pop(worst)[1].unlink(missing_ok=True)
        digest = hashlib.sha256(test.encode()).hexdigest()[:16]
        path = self.dir / f"record-{os.getpid()}-{digest}.json"
        rec = {"test_id": test, "size": size, "case": request["case"], "trajectory": request["trajectory"]}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec))
        os.replace(tmp, path)  # a process killed while writing never leaves half a record
        self.kept[test] = (key, path)


def kept_records(state: Path) -> list[dict[str, Any]]:
    """The failing cases the run's services kept: one per test (the smallest; a test run by two
    processes, after a restart, counts once), ordered by (size, test id), the first
    :data:`MAX_RECORDS`: the run's smallest, which every service keeps whatever it was given."""
    best: dict[str, tuple[tuple[int, str], dict[str, Any]]] = {}
    for path in sorted(state.glob("record-*.json")):
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        key = (int(rec.get("size", 0)), json.dumps(rec, sort_keys=True))
        if rec["test_id"] not in best or key < best[rec["test_id"]][0]:
            best[rec["test_id"]] = (key, rec)
    ordered = sorted(best.values(), key=lambda kr: (kr[0][0], kr[1]["test_id"]))
    return [rec for _, rec in ordered[:MAX_RECORDS]]


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
