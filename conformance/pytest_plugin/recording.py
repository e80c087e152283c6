"""What a run records for ``check``: per-test ulps, outcomes and first failures streamed to the run-state directory, heartbeats for the watchdog, bounded captured output."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from adagrad.conformance.pytest_plugin import run_state
from adagrad.conformance.pytest_plugin.run_state import test_id


class UlpsRecorder:
    """What ``record_ulps`` is: called with a test's worst error in ulps; it also takes the
    worst error of every step (``record_steps``) and the case's size (``record_size``), which
    :func:`~.harness.judge` reports, for the plots and the smallest failing case."""

    #: Per test, at most this many series of at most this many steps go into the report.
    MAX_SERIES, MAX_STEPS = 12, 400

    def __init__(self, node: pytest.Item) -> None:
        self.node = node

    def __call__(self, value: float) -> None:
        self.node.user_properties.append(("ulps", float(value)))

    def record_size(self, size: int) -> None:
        self.node.user_properties.append(("case_size", int(size)))

    def record_steps(self, dtype: str, errors: list[float]) -> None:
        series = [p for p in self.node.user_properties if p[0] == "step_ulps"]
        if len(series) < self.MAX_SERIES:
            # JSON has no infinity: a non-finite error (NaN where a number was due) is None
            clean = [float(e) if e == e and abs(e) != float("inf") else None for e in errors[: self.MAX_STEPS]]
            self.node.user_properties.append(("step_ulps", {"dtype": dtype, "errors": clean}))


def bounded_sections(report: pytest.TestReport) -> pytest.TestReport:
    """Keep the head and tail of captured output; a target printing megabytes costs nothing."""
    kept = []
    for title, content in report.sections:
        if len(content) > 2 * CAPTURE_KEEP:
            dropped = len(content) - 2 * CAPTURE_KEEP
            content = f"{content[:CAPTURE_KEEP]}\n[... {dropped} characters not kept ...]\n{content[-CAPTURE_KEEP:]}"
        kept.append((title, content))
    report.sections = kept
    return report


def heartbeat(nodeid: str | None, min_limit: float | None = None) -> None:
    """Tell the watchdog (``check``) which test this process runs now (and a longer limit it declares)."""
    directory = run_state.state_dir()
    if directory is None or "PYTEST_XDIST_WORKER" not in os.environ:  # only xdist workers are watched
        return
    try:
        run_state.write_json(
            directory / f"worker-{run_state.worker_name()}.json",
            {
                "pid": os.getpid(),
                "test": test_id(nodeid) if nodeid else None,
                "since": time.time(),
                "min_limit": min_limit,
            },
        )
    except OSError:
        pass


class Recorder:
    """On the process that receives reports (the xdist controller, or the only process):
    one line per test report in ``results.jsonl``; the report at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if hasattr(self.config, "workerinput"):
            return
        directory = run_state.state_dir()
        props = dict(report.user_properties)
        if directory is None or ("feature" not in props and "features/" not in report.nodeid):
            return
        if report.when not in ("call", "???") and report.outcome == "passed":
            return
        line = {
            "id": test_id(report.nodeid),
            "when": report.when,
            "outcome": report.outcome,
            "wasxfail": getattr(report, "wasxfail", None),
            "duration": report.duration,
            "skip_reason": _skip_reason(report),
            "message": report.longreprtext if report.outcome == "failed" else "",
            "properties": [[k, v] for k, v in report.user_properties if k != "feature"],
            "feature": props.get("feature"),
        }
        run_state.append_jsonl(directory / "results.jsonl", line)

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter, exitstatus: int, config: pytest.Config) -> None:
        if hasattr(config, "workerinput") or os.environ.get("ADAGRAD_CONFORMANCE_CHECK"):
            return  # `check` assembles and prints its own report
        from adagrad.conformance.reporting.assemble import assemble

        report = assemble(run_state.state_dir(), meta_from_config(config))
        used = [d for d in report["divergences"] if d["used_by"]]
        if used:
            terminalreporter.section("known divergences accepted")
            for d in used:
                terminalreporter.write_line(f"{d['id']}: {d['reason']} ({len(d['used_by'])} test(s))")
        for entry in report["stale_divergences"]:
            terminalreporter.write_line(
                f"warning: known-divergence entry {entry!r} lists a test that does not exist", yellow=True
            )
        path = config.getoption("--adagrad-report")
        if path:
            import json

            Path(path).write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    return str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else ""


def meta_from_config(config: pytest.Config) -> dict[str, Any]:
    """What a report says about the run (target, profile, seed, options)."""
    return {
        "target": f"exec:{config.getoption('--adagrad-exec')}"
        if config.getoption("--adagrad-exec")
        else config.getoption("--adagrad-target"),
        "adapter": "exec" if config.getoption("--adagrad-exec") else config.getoption("--adagrad-adapter"),
        "profile": config.getoption("--adagrad-profile"),
        "seed": config.getoption("--adagrad-seed"),
        "strict": config.getoption("--adagrad-strict"),
        "excluded": list(config.getoption("--adagrad-exclude")),
        "device": config.getoption("--adagrad-device"),
    }


#: Captured output kept per report section: head and tail (a target may print megabytes).
CAPTURE_KEEP = 4096
