"""Session-wide checks of the project's own test run.

Nothing a test starts may outlive the run (issue: the run leaves nothing behind). Every process
the session starts inherits a marker in its environment; when the session ends (on the xdist
controller, after the workers are gone) any live process carrying it fails the run, listed with
its command line.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

import pytest

MARKER = "ADAGRAD_TEST_SESSION"


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controller (or the only process) names the session
        os.environ.setdefault(MARKER, uuid.uuid4().hex)


def _leftovers(token: str) -> list[tuple[int, str]]:
    me, found = os.getpid(), []
    needle = f"{MARKER}={token}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if needle not in (entry / "environ").read_bytes():
                continue
            stat = (entry / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                continue
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        found.append((int(entry.name), cmd))
    return found


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    service = sys.modules.get("adagrad.conformance.engine.oracle_service")
    if service is not None:  # the oracle service of tests that judged cases in this process ends with it
        service.OracleClient.stop()
    if hasattr(session.config, "workerinput") or not Path("/proc/self/environ").exists():
        return
    token = os.environ.get(MARKER)
    if not token:
        return
    deadline = time.monotonic() + 10  # workers and their children are still exiting
    left = _leftovers(token)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = [p for p in _leftovers(token) if p[0] != os.getppid()]
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = "\n".join(f"  pid {pid}: {cmd[:200]}" for pid, cmd in left)
        if reporter is not None:
            reporter.write_line(f"processes started by this test run are still alive:\n{lines}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
