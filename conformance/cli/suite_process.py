"""The processes ``check`` starts: the probe that loads the target, the hermetic pytest run and its output stream, JUnit XML from its raw file."""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from adagrad.conformance.cli.watchdog import kill_tree
from adagrad.conformance.pytest_plugin import run_state

#: Seconds the probe may take to import and load the target and run its spec's warm_up (not a test's time).
IMPORT_LIMIT = 300


def _interrupt_then_kill(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Interrupt (SIGINT) the probe's process group first, so that a build in progress can run its
    ``finally`` clauses (torch's extension builder removes its lock file there: killed outright,
    it leaves one that makes every later build wait forever); then kill what is left."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=grace)
    except (OSError, subprocess.TimeoutExpired):
        pass
    if proc.poll() is None:
        kill_tree(proc.pid)
        proc.communicate()


def probe_target(args: argparse.Namespace) -> dict[str, Any]:
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
        _interrupt_then_kill(proc)
        return {
            "ok": False,
            "kind": "usage",
            "error": f"loading the target (its import and its spec's warm_up) did not finish within {IMPORT_LIMIT} s",
        }
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("ADAGRAD-PROBE "):
            return json.loads(line.removeprefix("ADAGRAD-PROBE "))
    tail = (err.decode(errors="replace").strip().splitlines() or ["(no output)"])[-1]
    return {
        "ok": False,
        "kind": "usage",
        "error": f"loading the target ended the process (exit status {proc.returncode}) before it answered: {tail}",
    }


def pytest_command(args: argparse.Namespace, tmp: Path) -> list[str]:
    """The hermetic pytest command line of the run (its own ini, plugins by -p only)."""
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
    if args.junitxml:  # written here first; write_junit() renames its classes to adagrad.<feature>
        cmd += ["--junitxml", str(tmp / "junit.xml"), "-o", "junit_suite_name=adagrad-conformance"]
    return cmd


def write_junit(raw: Path, report: dict[str, Any], dest: str) -> None:
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


def stream_output(proc: subprocess.Popen, state: Path) -> collections.deque[str]:
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
