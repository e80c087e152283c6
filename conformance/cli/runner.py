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
import math
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from adagrad.conformance.adapters.exec_clock import BUDGET_PER_EXAMPLE, waited_seconds
from adagrad.conformance.cli.watchdog import alive, become_subreaper, kill_descendants, kill_tree, own_seconds
from adagrad.conformance.features import FEATURES
from adagrad.conformance.pytest_plugin import profiles, run_state
from adagrad.conformance.reporting.assemble import environment

__all__ = ["register", "run_check"]

#: Seconds the probe may take to import and load the target (not a test's time).
IMPORT_LIMIT = 300
#: After this many timed-out tests the run stops: the target hangs, and saying so is enough.
MAX_TIMEOUTS = 3
#: After this many tests crashed the process running them, the run stops the same way.
MAX_CRASHES = 5
#: Part of a test's limit left for hypothesis to shrink a failure it found; then it is reported as found.
SHRINK_SHARE = 0.5


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
    p.add_argument(
        "--adapter",
        choices=("torch", "functional"),
        default="torch",
        help="torch: TARGET is a torch Optimizer (default); functional: TARGET follows the functional protocol",
    )
    p.add_argument(
        "--exec",
        dest="exec_command",
        metavar="COMMAND",
        help="check an external program speaking the subprocess protocol (JSON lines on stdin/stdout)",
    )
    p.add_argument(
        "--exec-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds the --exec program may take per answer (default 10)",
    )
    p.add_argument(
        "--exec-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds the --exec program's answers may take in all, per worker (default: 150 per example "
        "of the profile: quick 300, ci 1800, thorough 30000); past it, tests fail as too slow",
    )
    p.add_argument("--markdown", metavar="FILE", help="write a Markdown report to FILE")
    p.add_argument(
        "--html", metavar="FILE", help="write a self-contained HTML report with plots to FILE (needs matplotlib)"
    )
    p.add_argument(
        "--profile", choices=sorted(profiles.PROFILES), default="quick", help="hypothesis profile (default: quick)"
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="FEATURE",
        help="a feature the target does not claim (repeatable)",
    )
    p.add_argument(
        "--only", action="append", default=[], metavar="FEATURE", help="check only this feature (repeatable)"
    )
    p.add_argument("--report", metavar="FILE", help="write the JSON report to FILE")
    p.add_argument("--junitxml", metavar="FILE", help="write JUnit XML to FILE")
    p.add_argument(
        "--xfails",
        metavar="FILE",
        default=None,
        help="a known-divergences file (TOML) for this target, added to the packaged entries (which name their targets)",
    )
    p.add_argument("--strict", action="store_true", help="a known divergence that did not occur fails the run")
    p.add_argument("-n", dest="workers", default="2", help="pytest-xdist workers: a number >= 1, or auto (default 2)")
    p.add_argument(
        "--timeout", type=float, help="per-test limit in seconds of the target's own time (default: by profile)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the drawn examples (default 0; the report prints it)")
    p.add_argument("--no-shrink", action="store_true", help="do not minimise failing examples (faster verdicts)")
    p.add_argument("--device", default="cpu", help="torch device for the target's tensors (cpu or cuda)")
    p.add_argument(
        "--target-spec",
        metavar="FILE|module:attr",
        help="the target's state mapping and claims: a TOML/JSON file or an entry point (docs/protocols.md); "
        "default: the spec shipped for TARGET if any, 'none' for no spec",
    )
    p.add_argument(
        "--claims",
        action="append",
        default=[],
        metavar="KEY=A,B",
        help="what the target claims (repeatable): dtypes=, devices=, paths=, hyperparameters=, features=, "
        "not_claimed=; the rest is reported 'not claimed'",
    )
    p.add_argument(
        "--strict-support",
        action="store_true",
        help="a case the target refuses (reported unsupported by default) is a failure",
    )
    p.add_argument("--list-features", action="store_true", help="list the features and exit")
    p.set_defaults(func=run_check)


def _error(message: str) -> int:
    print(f"adagrad-conformance: error: {message}", file=sys.stderr)
    return 2


def _importable(name: str) -> bool:
    """Whether ``import name`` can be found, without importing it (a blocked or broken entry counts as missing)."""
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _writable(option: str, value: str | None) -> str | None:
    if not value:
        return None
    path = Path(value)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return f"{option} {value} is a directory, not a file"
    if not parent.is_dir():
        return f"{option} {value}: directory {parent} does not exist"
    if path.exists() and not os.access(path, os.W_OK) or not os.access(parent, os.W_OK):
        return f"{option} {value} is not writable"
    return None


def _validate(args: argparse.Namespace) -> str | None:
    """Every option checked before anything runs; the problem in one line, or None."""
    if args.exec_command and args.target:
        return "give either TARGET or --exec COMMAND, not both"
    if not args.exec_command and not args.target:
        return "a TARGET (module:attr) or --exec COMMAND is needed"
    for name in args.exclude + args.only:
        if name not in FEATURES:
            return f"unknown feature {name!r} (see --list-features)"
    if args.only:
        args.exclude = sorted(set(args.exclude) | (set(FEATURES) - set(args.only)))
    if set(FEATURES) <= set(args.exclude):
        return "every feature is excluded: nothing to check"
    if args.workers == "auto":
        args.workers = str(os.cpu_count() or 1)
    try:
        workers = int(args.workers)
    except ValueError:
        return f"-n takes a number of workers or auto, got {args.workers!r}"
    if not 1 <= workers <= 64:
        return "-n must be between 1 and 64 (workers isolate the suite from crashes in the target)"
    for option, value in (
        ("--timeout", args.timeout),
        ("--exec-timeout", args.exec_timeout),
        ("--exec-budget", args.exec_budget),
    ):
        if value is not None and (not math.isfinite(value) or value <= 0):
            return f"{option} must be a positive number of seconds, got {value}"
    if args.exec_command:
        try:
            if not shlex.split(args.exec_command):
                return "--exec needs a command"
        except ValueError as exc:
            return f"--exec {args.exec_command!r} cannot be split into words: {exc}"
    for option, value in (
        ("--report", args.report),
        ("--markdown", args.markdown),
        ("--html", args.html),
        ("--junitxml", args.junitxml),
    ):
        problem = _writable(option, value)
        if problem:
            return problem
    if args.html and not _importable("matplotlib"):
        return "--html needs matplotlib: pip install 'adagrad-conformance[plots]'"
    if args.xfails:
        from adagrad.conformance.pytest_plugin.known_divergences import DivergenceFileError, load_divergences

        try:
            load_divergences(Path(args.xfails))
        except DivergenceFileError as exc:
            return str(exc)
    if args.target_spec or args.claims or args.strict_support:
        if args.exec_command or args.adapter != "torch":
            return "--target-spec, --claims and --strict-support apply to a torch-API TARGET, not to --adapter functional or --exec"
        from adagrad.conformance.engine.target import TargetError
        from adagrad.conformance.engine.target_spec import load_spec, parse_claims

        try:
            if args.target_spec and args.target_spec != "none":
                load_spec(
                    args.target_spec, resolve=False
                )  # a file is read, an entry point only parsed: no target code here
            parse_claims(args.claims)
        except TargetError as exc:
            return str(exc)
    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        return f"--device must be cpu or cuda[:N], got {args.device!r}"
    if args.device != "cpu":
        import torch

        if not torch.cuda.is_available():
            return f"--device {args.device}: CUDA is not available here (torch {torch.__version__})"
    return None


def _probe(args: argparse.Namespace) -> dict[str, Any]:
    """Load the target in a throw-away process; never in this one."""
    cmd = [
        sys.executable,
        "-m",
        "adagrad.conformance.cli.probe",
        args.target or "",
        args.adapter,
        args.exec_command or "",
        str(args.exec_timeout),
        args.target_spec or "",
        json.dumps(list(args.claims or ())),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=IMPORT_LIMIT)
    except subprocess.TimeoutExpired:
        kill_tree(proc.pid)
        proc.communicate()
        return {"ok": False, "kind": "usage", "error": f"loading the target did not finish within {IMPORT_LIMIT} s"}
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("ADAGRAD-PROBE "):
            return json.loads(line.removeprefix("ADAGRAD-PROBE "))
    tail = (err.decode(errors="replace").strip().splitlines() or ["(no output)"])[-1]
    return {
        "ok": False,
        "kind": "usage",
        "error": f"loading the target ended the process (exit status {proc.returncode}) before it answered: {tail}",
    }


def _pytest_command(args: argparse.Namespace, tmp: Path, timeout: float) -> list[str]:
    config = tmp / "pytest.ini"
    config.write_text("[pytest]\n")  # our own configuration: no user ini file applies
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "--pyargs",
        "adagrad.conformance",
        "-c",
        str(config),
        "--rootdir",
        str(tmp),
        "--noconftest",
        "-p",
        "xdist.plugin",
        "-p",
        "_hypothesis_pytestplugin",
        "-p",
        "adagrad.conformance.pytest_plugin.plugin",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:logging",
        "-q",
        "--no-header",
        "--tb=long",
        "-W",
        "ignore::UserWarning",
        "--adagrad-target",
        args.target or "torch.optim:Adagrad",
        "--adagrad-profile",
        args.profile,
        "--adagrad-seed",
        str(args.seed),
        "--adagrad-adapter",
        args.adapter,
        "--adagrad-exec-timeout",
        str(args.exec_timeout),
        "--adagrad-device",
        args.device,
        "-n",
        str(args.workers),
        "--max-worker-restart",
        "1000",
    ]
    for name in args.exclude:
        cmd += ["--adagrad-exclude", name]
    if args.no_shrink:
        cmd.append("--adagrad-no-shrink")
    if args.strict:
        cmd.append("--adagrad-strict")
    if args.xfails:
        cmd += ["--adagrad-xfails", str(Path(args.xfails).resolve())]
    if args.exec_command:
        cmd += ["--adagrad-exec", args.exec_command]
    if args.target_spec:
        spec = Path(args.target_spec)
        cmd += [
            "--adagrad-target-spec",
            str(spec.resolve()) if spec.suffix.lower() in (".toml", ".json") else args.target_spec,
        ]
    for claim in args.claims:
        cmd += ["--adagrad-claims", claim]
    if args.strict_support:
        cmd.append("--adagrad-strict-support")
    if args.junitxml:  # written here first; _junit() renames its classes to adagrad.<feature>
        cmd += ["--junitxml", str(tmp / "junit.xml"), "-o", "junit_suite_name=adagrad-conformance"]
    return cmd


def _junit(raw: Path, report: dict[str, Any], dest: str) -> None:
    """JUnit XML with classnames ``adagrad.<feature>`` and names that are the report's test ids."""
    import xml.etree.ElementTree as ET

    if not raw.exists():
        return
    features = {r["id"]: r["feature"] for r in report["results"]}
    tree = ET.parse(raw)
    for case in tree.iter("testcase"):
        cls, name = case.get("classname", ""), case.get("name", "")
        module = cls.rsplit(".", 1)[-1]
        tid = f"{module}.py::{name}"
        case.set("classname", f"adagrad.{features.get(tid, module)}")
        case.set("name", tid)
    tree.write(dest, encoding="utf-8", xml_declaration=True)


class _Watchdog(threading.Thread):
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


def run_check(args: argparse.Namespace) -> int:
    """The ``check`` subcommand."""
    if args.list_features:
        for name, text in FEATURES.items():
            print(f"{name:20} {text}")
        return 0
    problem = _validate(args)
    if problem:
        return _error(problem)
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
    probe = _probe(args)
    spec = f"exec:{args.exec_command}" if args.exec_command else args.target
    if not probe["ok"] and probe["kind"] == "usage":
        return _error(probe["error"])
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
        cmd = _pytest_command(args, tmp, timeout)
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

        dog = _Watchdog(state, timeout, stop)
        dog.start()
        tail: collections.deque[str] = collections.deque()
        try:
            tail = _stream(suite, state)
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
            _junit(tmp / "junit.xml", report, args.junitxml)
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
    records = [r for path in sorted(state.glob("records-*.jsonl")) for r in run_state.read_jsonl(path)]
    if not records:
        return
    try:
        from adagrad.conformance.diagnosis import Record, diagnose
        from adagrad.conformance.engine.codec import decode_case, decode_trajectory
        from adagrad.conformance.engine.tensor_bits import decode_bits

        def values(b, cplx):
            if b is None:
                return None
            v = decode_bits(b[1], b[0])
            return v[..., 0] + 1j * v[..., 1] if cplx else v

        recs = []
        for r in records:
            case = decode_case(r["case"])
            cplx = case.dtype.startswith("complex")
            traj = [
                (
                    [values(p, cplx) for p in st.params],
                    [values(s, cplx) for s in st.sums],
                    [
                        int(decode_bits(s[1], s[0]).ravel()[0]) if isinstance(s, tuple) else int(s or 0)
                        for s in st.steps
                    ],
                )
                for st in decode_trajectory(r["trajectory"])
                if not st.error
            ]
            recs.append(Record(case=case, trajectory=traj, test_id=r["test_id"]))
        diagnosis = diagnose(recs)
        report["diagnosis"] = diagnosis.to_json()
        report["diagnosis_records"] = [r.to_json() for r in recs]
    except Exception as exc:  # noqa: BLE001 - the diagnosis is advice; its failure is a problem, not a verdict
        report["problems_diagnosis"] = f"diagnosis failed: {type(exc).__name__}: {exc}"


def _stream(proc: subprocess.Popen, state: Path) -> collections.deque[str]:
    """Progress while the suite runs; keeps only a tail of pytest's own output.

    One line per feature when its last test finished (its status and counts), and a status line
    (done / planned, failures, elapsed, estimate) whenever nothing was said for 10 s; on a
    terminal the status line is rewritten in place every second.
    """
    tail: collections.deque[str] = collections.deque(maxlen=50)
    done = threading.Event()
    live = sys.stdout.isatty()
    start = time.monotonic()

    def progress() -> None:
        reported: set[str] = set()
        last = time.monotonic()
        plan: list[dict[str, Any]] = []
        while not done.wait(1.0):
            if not plan:
                for path in state.glob("plan-*.json"):
                    try:
                        plan = [t for t in json.loads(path.read_text())["tests"] if t["planned"] == "run"]
                    except (OSError, ValueError, KeyError):
                        pass
                    break
            lines = run_state.read_jsonl(state / "results.jsonl")
            finished = {ln["id"]: ln for ln in lines if ln["when"] in ("call", "???") or ln["outcome"] != "passed"}
            bad = {i for i, ln in finished.items() if ln["outcome"] == "failed"}
            by_feature: dict[str, list[str]] = {}
            for t in plan:
                by_feature.setdefault(t["feature"], []).append(t["id"])
            now = time.monotonic()
            for name, ids in by_feature.items():
                if name not in reported and all(i in finished for i in ids):
                    reported.add(name)
                    failed = sum(i in bad for i in ids)
                    word = f"FAIL ({failed} of {len(ids)} failed)" if failed else f"ok ({len(ids)} tests)"
                    print(("\r\033[K" if live else "") + f"  {name:20} {word}  [{now - start:.0f} s]", flush=True)
                    last = now
            n = len([t for t in plan if t["id"] in finished])
            if live or now - last >= 10:
                eta = (
                    f", about {(now - start) / n * (len(plan) - n):.0f} s left" if n and plan and n < len(plan) else ""
                )
                text = f"  ... {n}/{len(plan) or '?'} tests done, {len(bad)} failed, {now - start:.0f} s{eta}"
                print(("\r\033[K" + text) if live else text, end="" if live else "\n", flush=True)
                last = now
        if live:
            print("\r\033[K", end="", flush=True)

    t = threading.Thread(target=progress, daemon=True)
    t.start()
    assert proc.stdout is not None
    for raw in proc.stdout:
        tail.append(raw.decode(errors="replace").rstrip("\n")[:2000])
    done.set()
    t.join(timeout=2)
    return tail


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
