"""Verdicts under load: run `check` N times with K busy-loop processes on the machine's cores.

    python tools/busy_check.py --runs 5 --busy 4 torch.optim:Adagrad adagrad.impl:Adagrad

Starts K `while 1: pass` processes, runs `adagrad-conformance check TARGET --profile quick` for
each target N times (one at a time), prints one line per run (exit status, wall seconds, verdict,
timeouts) and a summary, then stops exactly the busy processes it started. Exit status 0 when
every run of every target exited 0. docs/performance.md quotes its output.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="+")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--busy", type=int, default=4, help="busy-loop processes (default 4)")
    parser.add_argument("--extra", default="", help="extra check options, e.g. '--exclude distributed'")
    args = parser.parse_args(argv)
    busy = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(args.busy)]
    ok = True
    try:
        for target in args.targets:
            for run in range(1, args.runs + 1):
                with tempfile.TemporaryDirectory() as tmp:
                    report = Path(tmp) / "r.json"
                    t0 = time.monotonic()
                    proc = subprocess.run(
                        [
                            sys.executable,
                            "-m",
                            "adagrad.conformance.cli",
                            "check",
                            target,
                            "--profile",
                            "quick",
                            "--report",
                            str(report),
                            *args.extra.split(),
                        ],
                        capture_output=True,
                        text=True,
                        cwd=tmp,
                    )
                    seconds = time.monotonic() - t0
                    data = json.loads(report.read_text()) if report.exists() else {}
                load = os.getloadavg()[0]
                print(
                    f"{target} run {run}: exit {proc.returncode}, {seconds:.0f} s, verdict {data.get('verdict')}, "
                    f"timeouts {data.get('run', {}).get('timeouts')}, load {load:.1f}",
                    flush=True,
                )
                ok &= proc.returncode == 0
    finally:
        for p in busy:
            p.kill()
            p.wait()
    print("all runs exited 0" if ok else "some run did not exit 0")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
