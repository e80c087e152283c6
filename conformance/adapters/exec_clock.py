"""Time an ``--exec`` program spends answering, shared between a test worker and ``check``'s watchdog.

The program, not the worker, is the target of an ``--exec`` run; its time is bounded by the
driver (``--exec-timeout`` per answer, ``--exec-budget`` for the whole run), so ``check``'s
watchdog charges a test only with the worker's time *outside* those waits. The driver records
them in ``exec-wait-<worker>.txt`` in the run's state directory (:mod:`..run_state`): one line
``PID PROCESS_WAITED RUN_WAITED SINCE``, rewritten in place (no rename: it changes twice per
request), where ``SINCE`` is the ``time.monotonic()`` at which the wait now in progress began
(0: none). ``RUN_WAITED`` carries over to a restarted worker of the same name, so the budget
covers the whole run.

Nothing here imports torch or NumPy: ``check`` itself reads these files.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["BUDGET_PER_EXAMPLE", "BUDGET_VARIABLE", "WaitClock", "waited_seconds"]

#: Environment variable holding the whole-run budget in seconds (``check`` sets it).
BUDGET_VARIABLE = "ADAGRAD_EXEC_BUDGET"
#: Default whole-run budget: this many seconds per example the hypothesis profile draws
#: (quick 2 examples: 300 s, ci 12: 1800 s, thorough 200: 30000 s).
BUDGET_PER_EXAMPLE = 150.0
_RECORD = 96  # bytes: the line is padded to this width, so every write replaces all of it


def _path(state: Path, worker: str) -> Path:
    return state / f"exec-wait-{worker}.txt"


def _parse(raw: bytes) -> tuple[int, float, float, float] | None:
    try:
        pid, process, run, since = raw.split()[:4]
        return int(pid), float(process), float(run), float(since)
    except ValueError:
        return None


class WaitClock:
    """This process's waits for its program, published for the watchdog (one per process).

    Args:
        state: the run's state directory, or None (nothing is published).
        worker: the worker's name (``gw0``; ``main`` without xdist).
    """

    def __init__(self, state: Path | None, worker: str) -> None:
        self.process_waited = 0.0
        #: waits of earlier processes of this worker in this run (a worker restarted after a kill)
        self.inherited = 0.0
        self._since = 0.0
        self._fd: int | None = None
        if state is None:
            return
        path = _path(state, worker)
        try:
            previous = _parse(path.read_bytes()) if path.exists() else None
            if previous is not None and previous[0] != os.getpid():
                self.inherited = previous[2]
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            self._fd = None
        self._publish()

    @property
    def run_waited(self) -> float:
        """Seconds this worker's processes have waited for the program in this run, so far."""
        return self.inherited + self.process_waited

    def start(self) -> None:
        """A wait begins (a request was sent)."""
        self._since = time.monotonic()
        self._publish()

    def stop(self) -> float:
        """The wait ends; returns its length in seconds."""
        spent = time.monotonic() - self._since if self._since else 0.0
        self.process_waited += spent
        self._since = 0.0
        self._publish()
        return spent

    def _publish(self) -> None:
        if self._fd is None:
            return
        line = f"{os.getpid()} {self.process_waited:.6f} {self.run_waited:.6f} {self._since:.6f}"
        try:
            os.pwrite(self._fd, line.ljust(_RECORD - 1).encode() + b"\n", 0)
        except OSError:
            pass


def waited_seconds(state: Path, worker: str, pid: int) -> float:
    """Seconds process ``pid`` (worker ``worker``) has waited for its program, the wait in
    progress included; 0.0 when it never waited (or the run is not an ``--exec`` run)."""
    path = _path(state, worker)
    for _ in range(3):  # a read racing a rewrite may see a mix: read again
        try:
            record = _parse(path.read_bytes())
        except OSError:
            return 0.0
        if record is not None:
            rec_pid, process, _run, since = record
            if rec_pid != pid:
                return 0.0
            return process + (max(0.0, time.monotonic() - since) if since else 0.0)
    return 0.0
