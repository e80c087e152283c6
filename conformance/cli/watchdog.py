"""Supervision of the processes that run target code, from a process that never does.

- :func:`own_seconds` measures a process's *own* time: wall time minus the time its main thread
  spent waiting for a CPU (``/proc/PID/schedstat``), so a busy machine never makes a correct
  target look slow, while a target that sleeps or spins is charged in full.
- :func:`kill_tree` kills a process and everything it started; :func:`become_subreaper` makes
  orphans of our descendants ours, so :func:`kill_descendants` finds them at the end of a run.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from pathlib import Path

__all__ = ["Clock", "alive", "become_subreaper", "descendants", "kill_descendants", "kill_tree", "own_seconds"]


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
