"""Run ``adagrad-conformance check`` as a user does, for the tests that judge its verdicts
(hostile targets, hostile ``--exec`` programs): in a subprocess, with a unique marker in its
environment that everything the run starts inherits, so that nothing left alive goes unnoticed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def alive_with(marker: str) -> list[int]:
    """Processes whose environment carries ``marker`` (``NAME=value``)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def cmdline(pid: int) -> str:
    """The command line of ``pid`` (for messages), or the pid."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
    except OSError:
        return str(pid)


def new_marker() -> tuple[str, str]:
    """A unique ``(NAME, value)`` to put in a run's environment."""
    return "ADAGRAD_TEST_MARKER", uuid.uuid4().hex


def check_usage(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``check *args`` from ``tmp_path`` as a user types it, output captured (for usage errors)."""
    cmd = [sys.executable, "-m", "adagrad.conformance.cli", "check", *args]
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=timeout)


def pyargs_command(target: str, profile: str, *extra: str) -> list[str]:
    """The user's own pytest run of the suite: ``pytest --pyargs adagrad.conformance
    --adagrad-target TARGET --adagrad-profile PROFILE`` (no cache, quiet, library UserWarnings
    ignored), then ``extra``. Spelled out here as a user types it, not taken from the suite's own
    runner (``cli/suite_process.py``), so that the two can be compared."""
    return [
        sys.executable, "-m", "pytest", "--pyargs", "adagrad.conformance", "--adagrad-target", target,
        "--adagrad-profile", profile, "-p", "no:cacheprovider", "-q", "-W", "ignore::UserWarning", *extra,
    ]  # fmt: skip


def check(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> tuple[int, str, dict, float]:
    """``check *args --report`` in a subprocess from ``tmp_path``; (exit status, output, JSON
    report or {}, seconds). Asserts that no process the run started is alive 5 s after it ended;
    any that is gets killed, so that it never reaches the next test."""
    name, value = new_marker()
    marker = f"{name}={value}"
    report = tmp_path / "report.json"
    environ = {**os.environ, "PYTHONPATH": str(ROOT), name: value, **(env or {})}
    cmd = [sys.executable, "-m", "adagrad.conformance.cli", "check", *args, "--report", str(report)]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=timeout)
    finally:
        seconds = time.monotonic() - start
        deadline = time.monotonic() + 5
        while alive_with(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = alive_with(marker)
        for pid in left:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
    assert not left, f"processes left behind: {[cmdline(p) for p in left]}"
    data = json.loads(report.read_text()) if report.exists() else {}
    return proc.returncode, proc.stdout + proc.stderr, data, seconds
