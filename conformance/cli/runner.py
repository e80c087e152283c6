"""``adagrad-conformance check TARGET``: run the suite on a target and print a verdict.

The command itself never runs target code: a throw-away probe process loads the target (and
says what an adapted implementation claims), then a hermetic pytest run (its own configuration,
no plugin autoloading, ``PYTEST_ADDOPTS`` ignored) executes the suite in pytest-xdist workers.
A watchdog here kills a worker (and everything it started) when a test exceeds its limit in the
target's *own* time (waiting for a CPU is not counted), whatever the target does with the GIL;
the test is then ``timed-out`` and the run goes on. After :data:`MAX_TIMEOUTS` timeouts (or
:data:`MAX_CRASHES` crashes) the run
stops (the rest is ``not-run``). Nothing started by the run outlives it.

Exit status: 0 conformant, 1 non-conformant, 2 usage error or an unimportable target,
3 not verified (the run could not establish a verdict), 130/143 interrupted (SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from adagrad.conformance.adapters.exec_clock import BUDGET_PER_EXAMPLE
from adagrad.conformance.cli.check_options import usage_error, validate
from adagrad.conformance.cli.suite_process import probe_target, pytest_command, stream_output, write_junit
from adagrad.conformance.cli.watchdog import Watchdog, become_subreaper, kill_descendants, kill_tree
from adagrad.conformance.features import FEATURES
from adagrad.conformance.pytest_plugin import profiles, run_state
from adagrad.conformance.reporting.assemble import environment

__all__ = ["run_check"]


def list_features(args: argparse.Namespace) -> int:
    """``check --list-features``: each feature, what it checks, and the paths its tests run on (from
    the suite's own collection for the target, default torch.optim:Adagrad: nothing is run)."""
    paths: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory(prefix="adagrad-features-") as name:
        tmp = Path(name)
        cmd = pytest_command(args, tmp)
        cmd[cmd.index("-n") + 1] = "0"  # collection only, in one process
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env.update(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", **{run_state.ENV: str(tmp)})
        proc = subprocess.run([*cmd, "--collect-only"], cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
        for plan in sorted(tmp.glob("plan-*.json")):
            for test in json.loads(plan.read_text())["tests"]:
                paths.setdefault(test["feature"], set()).add(test["path"] or "default path")
    if not paths:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        print(f"(the paths could not be collected: {tail[0]})")
    order = ["default path", "for-loop", "foreach", "fused"]
    for name, text in FEATURES.items():
        on = sorted(paths.get(name, ()), key=lambda p: order.index(p) if p in order else len(order))
        print(f"{name:20} {text}" + (f" [paths: {', '.join(on)}]" if on else ""))
    return 0


def run_check(args: argparse.Namespace) -> int:
    """The ``check`` subcommand."""
    if args.list_features:
        return list_features(args)
    problem = validate(args)
    if problem:
        return usage_error(problem)
    become_subreaper()
    interrupted: list[int] = []

    def on_signal(signum, frame):  # noqa: ARG001
        interrupted.append(signum)
        if len(interrupted) == 1:  # the first signal stops the run; the partial verdict is still printed
            raise KeyboardInterrupt

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        status = _run(args, interrupted)
        if interrupted:
            return 143 if interrupted[0] == signal.SIGTERM else 130
        return status
    except KeyboardInterrupt:  # before the suite started: nothing to report
        print("adagrad-conformance: interrupted before the suite started", file=sys.stderr)
        return 143 if interrupted and interrupted[0] == signal.SIGTERM else 130
    finally:
        kill_descendants()
        for s, h in old.items():
            signal.signal(s, h)


def _run(args: argparse.Namespace, interrupted: list[int]) -> int:
    started = time.monotonic()
    probe = probe_target(args)
    spec = f"exec:{args.exec_command}" if args.exec_command else args.target
    if not probe["ok"] and probe["kind"] == "usage":
        return usage_error(probe["error"])
    timeout = args.timeout or profiles.PROFILES[args.profile][2]
    description = probe.get("description") or spec
    scope = f"only: {', '.join(args.only)}" if args.only else f"excluded: {', '.join(args.exclude) or 'none'}"
    print(
        f"adagrad-conformance: checking {description} (profile {args.profile}, seed {args.seed}, {scope}"
        + (f"; not claimed: {', '.join(probe.get('unsupported', []))}" if probe.get("unsupported") else "")
        + ")",
        flush=True,
    )
    meta: dict[str, Any] = {
        "target": spec,
        "adapter": "exec" if args.exec_command else args.adapter,
        "description": description,
        "profile": args.profile,
        "seed": args.seed,
        "strict": args.strict,
        "excluded": args.exclude,
        "problems": [],
    }
    with tempfile.TemporaryDirectory(prefix="adagrad-conformance-") as tmp_name:
        tmp = Path(tmp_name)
        state = tmp / "state"
        state.mkdir()
        cmd = pytest_command(args, tmp)
        meta["environment"] = environment(cmd)
        if not probe["ok"]:  # the program started but broke the protocol at once: the target's failure
            meta["run"] = {"status": "complete", "reason": None, "timeouts": 0, "wall_seconds": 0.0}
            meta["problems"] = []
            return _finish(_protocol_failure_report(meta, probe["error"]), args)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env.update(
            PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
            OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
            ADAGRAD_EXEC_CWD=os.getcwd(),
            ADAGRAD_CONFORMANCE_CHECK="1",
            **{run_state.ENV: str(state)},
            ADAGRAD_EXEC_BUDGET=str(args.exec_budget or BUDGET_PER_EXAMPLE * profiles.PROFILES[args.profile][1]),
        )
        suite = subprocess.Popen(
            cmd, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        stop_reason: list[str] = []

        def stop(reason: str) -> None:
            stop_reason.append(reason)
            kill_tree(suite.pid)

        dog = Watchdog(state, timeout, stop)
        dog.start()
        tail: collections.deque[str] = collections.deque()
        try:
            tail = stream_output(suite, state)
            suite.wait()
            if os.environ.get("ADAGRAD_DEBUG_TIMES"):
                print(f"[debug] pytest ended at {time.monotonic() - started:.1f} s", file=sys.stderr)
        except KeyboardInterrupt:
            kill_tree(suite.pid)
            suite.wait()
        dog.done.set()
        dog.join()
        status = "complete"
        reason = None
        if interrupted:
            status, reason = "interrupted", "SIGTERM" if interrupted[0] == signal.SIGTERM else "SIGINT (Ctrl-C)"
        elif stop_reason:
            status, reason = "stopped-early", stop_reason[0]
        elif suite.returncode not in (0, 1):
            status = "infrastructure-error"
            reason = f"pytest exit status {suite.returncode}: " + " | ".join(
                line for line in list(tail)[-5:] if line.strip()
            )
            meta["problems"].append(reason)
        meta["run"] = {
            "status": status,
            "reason": reason,
            "timeouts": dog.timeouts,
            "wall_seconds": round(time.monotonic() - started, 2),
        }
        from adagrad.conformance.reporting.assemble import assemble

        report = assemble(state, meta)
        _diagnose(report, state)
        if args.junitxml:
            write_junit(tmp / "junit.xml", report, args.junitxml)
    return _finish(report, args)


def _protocol_failure_report(meta: dict[str, Any], error: str) -> dict[str, Any]:
    from adagrad.conformance.reporting.assemble import assemble
    from adagrad.conformance.reporting.model import Result, failure_record
    from adagrad.conformance.reporting.summary import verdict

    report = assemble(None, meta)
    statement = f"the program broke the protocol at hello: {error}"
    failure = failure_record({"statement": statement})
    report["results"] = [
        Result("(protocol)", next(iter(FEATURES)), "failed", message=statement).to_json() | {"failure": failure}
    ]
    report["verdict"] = verdict(report)[0]
    return report


def _diagnose(report: dict[str, Any], state: Path) -> None:
    """Name the semantic variant behind numerical failures (never changes the verdict)."""
    if report["verdict"] != "non-conformant":
        return
    from adagrad.conformance.engine.oracle_service import kept_records

    records = kept_records(state)
    if not records:
        return
    try:
        from adagrad.conformance.diagnosis import diagnose, from_run_state

        recs = [from_run_state(r) for r in records]
        diagnosis = diagnose(recs)
        report["diagnosis"] = diagnosis.to_json()
        report["diagnosis_records"] = [r.to_json() for r in recs]
    except Exception as exc:  # noqa: BLE001 - the diagnosis is advice; its failure is a problem, not a verdict
        report["problems_diagnosis"] = f"diagnosis failed: {type(exc).__name__}: {exc}"


def _finish(report: dict[str, Any], args: argparse.Namespace) -> int:
    from adagrad.conformance.reporting.summary import render_summary, verdict

    extra_problem = report.pop("problems_diagnosis", None)
    records = report.pop("diagnosis_records", None)
    word, status = verdict(report)
    report["verdict"] = word
    print(render_summary(report))
    if extra_problem:
        print(f"note: {extra_problem}")
    if args.report:
        from adagrad.conformance.reporting.model import dumps

        text = dumps(report)
        if records is not None:
            data = json.loads(text)
            data["diagnosis_records"] = records
            text = json.dumps(data, indent=1, sort_keys=True)
        Path(args.report).write_text(text + "\n")
    if args.markdown:
        from adagrad.conformance.reporting.markdown import render_markdown

        Path(args.markdown).write_text(render_markdown(report))
    if args.html:
        from adagrad.conformance.reporting.html_page import render_html

        Path(args.html).write_text(render_html(report))
    return status
