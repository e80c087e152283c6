"""``adagrad-conformance check TARGET``: run the suite on a target and print a verdict.

``--adapter functional TARGET`` checks an implementation of the functional protocol and
``--exec "COMMAND"`` an external program (``docs/protocols.md``); features they do not claim are
reported as unsupported. ``--report``, ``--markdown`` and ``--html`` write the results.

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
from .report import CRASHED, render_summary, verdict
from .adapters.base import resolve
from .target import TargetError

__all__ = ["register", "run_check"]

#: Seconds the smoke probe (interpreter start, imports and one step) may take.
SMOKE_TIMEOUT = 20
#: Added for --adapter functional: importing a library (TensorFlow, Keras, JAX) alone can take
#: longer than a torch target's whole probe, and that is not a hang.
LIBRARY_IMPORT_ALLOWANCE = 60


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``check`` subcommand."""
    p = sub.add_parser(
        "check",
        help="check an Adagrad implementation against the spec",
        description="Run the conformance suite on TARGET (module:attr of a class or factory "
        "f(params, **hyperparameters) with torch's Optimizer API; with --adapter functional, an "
        "object with init/step/accumulators), or on an external program (--exec).",
    )
    p.add_argument("target", nargs="?", help="module:attr, e.g. torch.optim:Adagrad (not with --exec)")
    p.add_argument("--adapter", choices=("torch", "functional"), default="torch",
                   help="torch: TARGET is a torch Optimizer (default); functional: TARGET follows the functional protocol")
    p.add_argument("--exec", dest="exec_command", metavar="COMMAND",
                   help="check an external program speaking the subprocess protocol (JSON lines on stdin/stdout)")
    p.add_argument("--exec-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="seconds the --exec program may take per answer (default 10)")
    p.add_argument("--markdown", metavar="FILE", help="write a Markdown report to FILE")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report with plots to FILE (needs matplotlib)")
    p.add_argument("--profile", choices=sorted(profiles.PROFILES), default="quick", help="hypothesis profile (default: quick)")
    p.add_argument("--exclude", action="append", default=[], metavar="FEATURE", help="a feature the target does not claim (repeatable)")
    p.add_argument("--report", metavar="FILE", help="write the JSON report to FILE")
    p.add_argument("--junitxml", metavar="FILE", help="write JUnit XML to FILE")
    p.add_argument("--xfails", metavar="FILE", default=None,
                   help="known-divergences file (default: torch's for a torch target, none for --adapter functional or --exec)")
    p.add_argument("-n", dest="workers", default="2", help="pytest-xdist workers (at least 1; default 2)")
    p.add_argument("--timeout", type=float, help="per-case time limit in seconds (default: by profile)")
    p.add_argument("--no-shrink", action="store_true", help="do not minimise failing examples (faster verdicts)")
    p.add_argument("--list-features", action="store_true", help="list the features and exit")
    p.set_defaults(func=run_check)


def _error(message: str) -> int:
    print(f"adagrad-conformance: error: {message}", file=sys.stderr)
    return 2


#: Exit status of the smoke probe when an --exec program did not answer in time.
_PROBE_HANG = 3


def _start_smoke(args: argparse.Namespace) -> subprocess.Popen:
    """Start the smoke probe: one step of the target in a subprocess."""
    code = (
        "import sys, torch\n"
        "from adagrad.conformance.adapters import resolve\n"
        "from adagrad.conformance.adapters.subprocess_protocol import ProgramHang\n"
        f"t = resolve({args.target!r}, {args.adapter!r}, {args.exec_command!r}, exec_timeout={args.exec_timeout!r}).target\n"
        "p = torch.ones(4, requires_grad=True)\n"
        "try:\n"
        "    opt = t.make([p], lr=0.1)\n"
        "    p.grad = torch.ones(4)\n"
        "    opt.step()\n"
        "except ProgramHang as exc:\n"
        f"    print(exc, file=sys.stderr); sys.exit({_PROBE_HANG})\n"
        "except BaseException as exc:\n"
        "    if type(exc).__name__ != 'Skipped':  # an unsupported float32 step is not a crash\n"
        "        raise\n"
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
    if proc.returncode == _PROBE_HANG:
        tail = (err.strip().splitlines() or ["(no output)"])[-1]
        return f"hangs: one step of a 4-element float32 parameter got no answer in time: {tail}"
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
    if args.xfails is None:  # torch's own divergences (D1, D3, D5) say nothing about another library
        args.xfails = str(DEFAULT_FILE) if args.adapter == "torch" and not args.exec_command else os.devnull
    if args.xfails != os.devnull and not Path(args.xfails).is_file():
        return _error(f"known-divergences file {args.xfails} does not exist")
    if args.exec_command and args.target:
        return _error("give either TARGET or --exec COMMAND, not both")
    from .adapters.subprocess_protocol import ProgramSetupError

    try:
        resolved = resolve(args.target, args.adapter, args.exec_command, exec_timeout=args.exec_timeout)
    except ProgramSetupError as exc:  # it started but broke the protocol at once: a failure, not a usage error
        report = {"target": f"exec:{args.exec_command}", "adapter": "exec", "profile": args.profile, "excluded": sorted(args.exclude),
                  "unsupported": [], "results": [], "smoke": f"hangs or breaks the protocol: {exc}",
                  "known_divergences": [], "stale_divergences": []}
        return _finish(report, args)
    except TargetError as exc:
        return _error(str(exc))
    close = getattr(getattr(resolved.target.factory, "impl", None), "close", None)
    if close:  # the suite's workers start their own copies of the program
        close()

    timeout = args.timeout or profiles.PROFILES[args.profile][2]
    print(f"adagrad-conformance: checking {resolved.description} (profile {args.profile}, "
          f"excluded: {', '.join(args.exclude) or 'none'}"
          + (f"; unsupported: {', '.join(resolved.unsupported)}" if resolved.unsupported else "") + ")", flush=True)
    smoke = _start_smoke(args)  # runs beside the suite; a hang stops everything
    with tempfile.TemporaryDirectory(prefix="adagrad-conformance-") as tmp:
        json_path = Path(tmp) / "report.json"
        cmd = [
            sys.executable, "-m", "pytest", "--pyargs", "adagrad.conformance",
            "-p", "no:cacheprovider", "-q", "-o", "console_output_style=progress",
            "--adagrad-target", args.target or "torch.optim:Adagrad", "--adagrad-profile", args.profile,
            "--adagrad-adapter", args.adapter, "--adagrad-exec-timeout", str(args.exec_timeout),
            "--adagrad-xfails", str(Path(args.xfails).resolve()), "--adagrad-report", str(json_path),
            "-n", str(workers), "--timeout", str(timeout), "--timeout-method", "thread",
            "--tb=long", "-W", "ignore::UserWarning", "--no-header",
        ]
        for name in args.exclude:
            cmd += ["--adagrad-exclude", name]
        if args.no_shrink:
            cmd.append("--adagrad-no-shrink")
        if args.exec_command:
            cmd += ["--adagrad-exec", args.exec_command]
        if args.junitxml:
            cmd += ["--junitxml", str(Path(args.junitxml).resolve())]
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "ADAGRAD_EXEC_CWD": os.getcwd()}
        suite = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        smoke_problem: list[str | None] = []

        def watch_smoke() -> None:
            limit = SMOKE_TIMEOUT + (LIBRARY_IMPORT_ALLOWANCE if args.adapter == "functional" else 0)
            smoke_problem.append(_smoke_result(smoke, limit))
            if smoke_problem[0] and smoke_problem[0].startswith("hangs"):
                suite.kill()

        watcher = threading.Thread(target=watch_smoke, daemon=True)
        watcher.start()
        output = _stream_progress(suite)
        suite.wait()
        watcher.join()
        problem = smoke_problem[0]
        if problem and problem.startswith("hangs"):
            report = {"target": resolved.target.spec, "adapter": "exec" if args.exec_command else args.adapter,
                      "profile": args.profile, "excluded": sorted(args.exclude), "unsupported": resolved.unsupported,
                      "results": [], "smoke": problem, "known_divergences": [], "stale_divergences": []}
            return _finish(report, args)
        if not json_path.exists():
            tail = "\n".join(output[-15:])
            return _error(f"the suite did not run (pytest exit status {suite.returncode}):\n{tail}")
        report: dict[str, Any] = json.loads(json_path.read_text())
        failed = any(r["outcome"] == "failed" for r in report["results"])
        if suite.returncode not in (0, 1, 5) or (suite.returncode == 1 and not failed):
            # the run ended early (e.g. xdist gave up restarting crashed workers): never a pass
            report["results"].append({
                "id": "(run)", "feature": CRASHED, "outcome": "failed", "worst_ulps": None, "divergence": None,
                "duration": 0.0, "message": f"E   the test run ended early (pytest exit status {suite.returncode}); "
                f"tests after that point did not run\n" + "\n".join("E   " + line for line in output[-10:]),
            })
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
    if args.markdown:
        from .report_markdown import render_markdown

        Path(args.markdown).write_text(render_markdown(report))
    if args.html:
        from .report_html import render_html

        try:
            Path(args.html).write_text(render_html(report))
        except ImportError as exc:
            print(f"adagrad-conformance: error: --html needs matplotlib (pip install 'adagrad-conformance[plots]'): {exc}", file=sys.stderr)
            return 2
    return status
