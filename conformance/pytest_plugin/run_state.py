"""The run's state directory: what the test processes, the pytest controller and ``check`` share.

``ADAGRAD_CONFORMANCE_STATE`` names a directory (``check`` creates one per run; a plain pytest
run gets one from the plugin). Files, each written by one kind of process:

- ``plan.json`` (a test process, after collection): every conformance test, its feature, path
  and what is planned for it (``run``, ``excluded``, ``not-claimed``).
- ``worker-<id>.json`` (each test process): its pid and the test it is running now (the
  watchdog's input), rewritten at each test's start and end.
- ``first-failure-<id>.jsonl`` (each test process): the first failure of a test, written before
  hypothesis starts shrinking, so a test killed while shrinking is still reported as failed.
- ``results.jsonl`` (the controller): one line per test report.
- ``oracle-<pid>.jsonl``, ``record-<pid>-<test hash>.json`` (oracle processes, :mod:`.oracle_service`).
- ``watchdog.jsonl`` (``check``): tests it killed, and why.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["ENV", "first_failure", "read_jsonl", "state_dir", "test_id", "worker_name", "write_json", "append_jsonl"]

ENV = "ADAGRAD_CONFORMANCE_STATE"


def test_id(nodeid: str) -> str:
    """The id used in reports and divergence files: the part after ``features/``."""
    return nodeid.rsplit("features/", 1)[-1]


test_id.__test__ = False  # not a test, although pytest would collect the name


def state_dir() -> Path | None:
    value = os.environ.get(ENV)
    return Path(value) if value else None


def worker_name() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def write_json(path: Path, obj: Any) -> None:
    """Write atomically (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)


def append_jsonl(path: Path, obj: Any) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(obj) + "\n")


def read_jsonl(path: Path) -> list[Any]:
    """The complete lines of a JSON-lines file (a line cut by a kill is ignored)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


_recorded: set[str] = set()


def first_failure(
    message: str, size: int | None = None, details: dict[str, Any] | None = None, kind: str = "numerics"
) -> None:
    """Record the current test's first failure (once per test), if a state directory is set.

    ``kind`` is ``"numerics"`` for a result outside the error model, else the exception's class name.
    """
    directory = state_dir()
    current = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    if directory is None or not current or current in _recorded:
        return
    _recorded.add(current)
    entry = {"test": test_id(current), "message": message, "size": size, "details": details or {}, "kind": kind}
    try:
        append_jsonl(directory / f"first-failure-{worker_name()}.jsonl", entry)
    except (OSError, TypeError, ValueError):
        pass
