"""``adagrad-conformance check TARGET``: run the suite on a target and print a verdict.

The suite runs in a pytest subprocess with pytest-xdist workers, so a target that crashes a
worker or hangs past the per-case time limit fails that case and the run goes on. A smoke probe
(one step in a subprocess) runs first: a target that hangs on it gets its verdict at once.

Exit status: 0 conformant, 1 non-conformant, 2 usage error or an unimportable target.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from . import profiles
from .features import FEATURES
from .known_divergences import DEFAULT_FILE
from .report import render_summary, verdict
from .target import TargetError, load_target

__all__ = ["register", "run_check"]

#: Seconds the smoke probe (interpreter start, imports and one step) may take.
SMOKE_TIMEOUT = 45


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``check`` subcommand."""
    p = sub.add_parser(
        "check",
        help="check an Adagrad implementation against the spec",
        description="Run the conformance suite on TARGET (module:attr of a class or factory "
        "f(params, **hyperparameters) with torch's Optimizer API).",
    )
    p.add_argument("target", help="module:attr, e.g. torch.optim:Adagrad")
    p.add_argument("--profile", choices=sorted(profiles.PROFILES), default="quick", help="hypothesis profile (default: quick)")
    p.add_argument("--exclude", action="append", default=[], metavar="FEATURE", help="a feature the target does not claim (repeatable)")
    p.add_argument("--report", metavar="FILE", help="write the JSON report to FILE")
    p.add_argument("--junitxml", metavar="FILE", help="write JUnit XML to FILE")
    p.add_argument("--xfails", metavar="FILE", default=str(DEFAULT_FILE), help="known-divergences file (default: torch's)")
    p.add_argument("-n", dest="workers", default="2", help="pytest-xdist workers (at least 1; default 2)")
    p.add_argument("--timeout", type=float, help="per-case time limit in seconds (default: by profile)")
    p.add_argument("--list-features", action="store_true", help="list the features and exit")
    p.set_defaults(func=run_check)


def _error(message: str) -> int:
    print(f"adagrad-conformance: error: {message}", file=sys.stderr)
    return 2


def _start_smoke(target: str) -> subprocess.Popen:
    """Start the smoke probe: one step of the target in a subprocess."""
    code = (
        "import torch\n"
        "from adagrad.conformance.target import load_target\n"
        f"t = load_target({target!r})\n"
        "p = torch.ones(4, requires_grad=True)\n"
        "opt = t.make([p], lr=0.1)\n"
        "p.grad = torch.ones(4)\n"
        "opt.step()\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _smoke_result(proc: subprocess.Popen, timeout: float) -> str | None:
    """Wait for the probe; return a problem description, or None if the step completed."""
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return f"hangs: one step of a 4-element float32 parameter did not finish in {timeout:.0f} s"
    if proc.returncode != 0:
        tail = (err.strip().splitlines() or ["(no output)"])[-1]
        return f"crashes on one step (exit status {proc.returncode}): {tail}"
    return None


def run_check(args: argparse.Namespace) -> int:
    """The ``check`` subcommand."""
    if args.list_features:
        for name, text in FEATURES.items():
            print(f"{name:20} {text}")
        return 0
    unknown = [f for f in args.exclude if f not in FEATURES]
    if unknown:
        return _error(f"unknown feature(s) to exclude: {', '.join(unknown)} (see --list-features)")
    if set(FEATURES) <= set(args.exclude):
        return _error("every feature is excluded: nothing to check")
    try:
        workers = int(args.workers)
    except ValueError:
        return _error(f"-n takes a number of workers, got {args.workers!r}")
    if workers < 1:
        return _error("-n must be at least 1 (workers isolate the suite from crashes in the target)")
    if not Path(args.xfails).is_file():
        return _error(f"known-divergences file {args.xfails} does not exist")
    try:
        load_target(args.target)
    except TargetError as exc:
        return _error(str(exc))

    timeout = args.timeout or profiles.PROFILES[args.profile][2]
    print(f"adagrad-conformance: checking {args.target} (profile {args.profile}, "
          f"excluded: {', '.join(args.exclude) or 'none'})", flush=True)
    smoke = _start_smoke(args.target)  # runs beside the suite; a hang stops everything
    with tempfile.TemporaryDirectory(prefix="adagrad-conformance-") as tmp:
        json_path = Path(tmp) / "report.json"
        cmd = [
            sys.executable, "-m", "pytest", "--pyargs", "adagrad.conformance",
            "-p", "no:cacheprovider", "-q", "-o", "console_output_style=progress",
            "--adagrad-target", args.target, "--adagrad-profile", args.profile,
            "--adagrad-xfails", str(Path(args.xfails).resolve()), "--adagrad-report", str(json_path),
            "-n", str(workers), "--timeout", str(timeout), "--timeout-method", "thread",
            "--tb=long", "-W", "ignore::UserWarning", "--no-header",
        ]
        for name in args.exclude:
            cmd += ["--adagrad-exclude", name]
        if args.junitxml:
            cmd += ["--junitxml", str(Path(args.junitxml).resolve())]
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        suite = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        smoke_problem: list[str | None] = []

        def watch_smoke() -> None:
            smoke_problem.append(_smoke_result(smoke, SMOKE_TIMEOUT))
            if smoke_problem[0] and smoke_problem[0].startswith("hangs"):
                suite.kill()

        watcher = threading.Thread(target=watch_smoke, daemon=True)
        watcher.start()
        output = _stream_progress(suite)
        suite.wait()
        watcher.join()
        problem = smoke_problem[0]
        if problem and problem.startswith("hangs"):
            report = {"target": args.target, "profile": args.profile, "excluded": sorted(args.exclude),
                      "results": [], "smoke": problem, "known_divergences": [], "stale_divergences": []}
            return _finish(report, args)
        if not json_path.exists():
            tail = "\n".join(output[-15:])
            return _error(f"the suite did not run (pytest exit status {suite.returncode}):\n{tail}")
        report: dict[str, Any] = json.loads(json_path.read_text())
    if problem:
        report["smoke"] = problem
    return _finish(report, args)


def _stream_progress(proc: subprocess.Popen) -> list[str]:
    """Echo pytest's progress lines as they come, not its failure listing (the table has it)."""
    lines, echo = [], True
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith(("=", "_", "E ", "FAILED")):
            echo = False
        if echo and line.strip() and not line.startswith("bringing up nodes"):
            print(line, end="", flush=True)
    return lines


def _finish(report: dict[str, Any], args: argparse.Namespace) -> int:
    status = verdict(report)
    report["verdict"] = "conformant" if status == 0 else "non-conformant"
    print(render_summary(report))
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    return status
