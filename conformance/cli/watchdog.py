"""Supervision of the processes that run target code, from a process that never does.

- :func:`own_seconds` measures a process's *own* time: wall time minus the time its main thread
  spent waiting for a CPU (``/proc/PID/schedstat``), so a busy machine never makes a correct
  target look slow, while a target that sleeps or spins is charged in full.
- :func:`kill_tree` kills a process and everything it started; :func:`become_subreaper` makes
  orphans of our descendants ours, so :func:`kill_descendants` finds them at the end of a run.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import threading
import time
from pathlib import Path

from adagrad.conformance.adapters.exec_clock import waited_seconds
from adagrad.conformance.pytest_plugin import run_state

__all__ = [
    "MAX_CRASHES",
    "MAX_TIMEOUTS",
    "SHRINK_SHARE",
    "Clock",
    "Watchdog",
    "alive",
    "become_subreaper",
    "descendants",
    "kill_descendants",
    "kill_tree",
    "own_seconds",
]


def _run_delay(pid: int) -> float | None:
    """Seconds the process's main thread has waited on a run queue, or None if unknown."""
    try:
        fields = Path(f"/proc/{pid}/schedstat").read_text().split()
        return int(fields[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


class Clock:
    """The own time of one process since :meth:`start` (falls back to wall time)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.wall0 = time.monotonic()
        self.delay0 = _run_delay(pid)

    def seconds(self) -> float:
        wall = time.monotonic() - self.wall0
        delay = _run_delay(self.pid)
        if delay is None or self.delay0 is None:
            return wall
        return max(0.0, wall - (delay - self.delay0))


def own_seconds(pid: int, since_wall: float, since_delay: float | None) -> float:
    wall = time.monotonic() - since_wall
    delay = _run_delay(pid)
    return wall if delay is None or since_delay is None else max(0.0, wall - (delay - since_delay))


def alive(pid: int) -> bool:
    """Is ``pid`` a live process (not gone, not a zombie)?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (children first found, deepest last)."""
    children = _children_map()
    out, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and all its descendants (stopped first, so none can start more)."""
    tree = [pid] + descendants(pid)
    for p in tree:
        try:
            os.kill(p, signal.SIGSTOP)
        except OSError:
            pass
    for p in reversed(tree):
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def kill_descendants(rounds: int = 5) -> None:
    """Kill everything below this process; with a subreaper, orphans are found too."""
    me = os.getpid()
    for _ in range(rounds):
        tree = descendants(me)
        if not tree:
            return
        for p in tree:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass
            except ChildProcessError:
                break
            if not descendants(me):
                return
            time.sleep(0.05)


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux ``PR_SET_CHILD_SUBREAPER``); False where unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


#: After this many timed-out tests the run stops: the target hangs, and saying so is enough.
MAX_TIMEOUTS = 3


#: After this many tests crashed the process running them, the run stops the same way.
MAX_CRASHES = 5


#: Part of a test's limit left for hypothesis to shrink a failure it found; then it is reported as found.
SHRINK_SHARE = 0.5


class Watchdog(threading.Thread):
    """Polls the workers' heartbeats; kills a worker whose test ran past its limit."""

    def __init__(self, state: Path, limit: float, on_stop) -> None:
        super().__init__(daemon=True)
        self.state, self.limit, self.on_stop = state, limit, on_stop
        self.timeouts = 0
        self.running: dict[str, tuple[int, str, float, float | None, float]] = {}
        self.done = threading.Event()
        self.failed_tests: set[str] = set()
        self.program_waited0: dict[str, float] = {}  # per worker: its --exec program's waits when its test began

    def run(self) -> None:
        from adagrad.conformance.cli.watchdog import _run_delay

        while not self.done.wait(0.25):
            crashes = sum(1 for ln in run_state.read_jsonl(self.state / "results.jsonl") if ln.get("when") == "???")
            crashes -= len(run_state.read_jsonl(self.state / "watchdog.jsonl"))  # our kills read as crashes too
            if crashes >= MAX_CRASHES:
                self.on_stop(f"stopped after {crashes} tests crashed the process running them")
                return
            failing = set()
            for path in self.state.glob("first-failure-*.jsonl"):
                failing |= {e["test"] for e in run_state.read_jsonl(path)}
            for path in self.state.glob("worker-*.json"):
                try:
                    beat = json.loads(path.read_text())
                except (OSError, ValueError):
                    continue
                name = path.stem
                if not beat.get("test"):
                    self.running.pop(name, None)
                    continue
                key = (beat["pid"], beat["test"])
                cur = self.running.get(name)
                if cur is None or (cur[0], cur[1]) != key:
                    self.running[name] = (
                        beat["pid"],
                        beat["test"],
                        time.monotonic(),
                        _run_delay(beat["pid"]),
                        max(self.limit, float(beat.get("min_limit") or 0)),
                    )
                    self.program_waited0[name] = waited_seconds(self.state, name.removeprefix("worker-"), beat["pid"])
                    continue
                pid, test, wall0, delay0, test_limit = cur
                if not alive(pid):  # it crashed: xdist reports that; nothing to time
                    continue
                # an --exec program's answers are bounded by --exec-timeout and --exec-budget, not here
                waited = waited_seconds(self.state, name.removeprefix("worker-"), pid) - self.program_waited0.get(
                    name, 0.0
                )
                spent = own_seconds(pid, wall0, delay0) - waited
                shrinking = test in failing
                limit = test_limit * SHRINK_SHARE if shrinking else test_limit
                if spent > limit:
                    why = "shrink" if shrinking else "timeout"
                    run_state.append_jsonl(
                        self.state / "watchdog.jsonl",
                        {"test": test, "why": why, "limit": limit, "own_seconds": spent, "pid": pid},
                    )
                    kill_tree(pid)
                    self.running.pop(name, None)
                    if why == "timeout":
                        self.timeouts += 1
                        if self.timeouts >= MAX_TIMEOUTS:
                            self.on_stop(f"stopped after {self.timeouts} tests timed out (the target hangs)")
                            return
