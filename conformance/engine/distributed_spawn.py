"""Starts the rank processes of the ``distributed`` feature and says how they ended.

:func:`spawn` runs ``python -m adagrad.conformance.engine.distributed_ranks TARGET OUT_DIR
TARGET_SPEC`` in each of :data:`~.distributed_plan.WORLD_SIZE` processes, with ``RANK``,
``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` set; the results land in ``OUT_DIR``
(:func:`~.distributed_plan.result_path`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from adagrad.conformance.engine.distributed_plan import WORLD_SIZE

__all__ = ["spawn"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(
    spec: str, out_dir: Path, timeout: float, target_spec: str = "none", paths: list[str] | None = None
) -> str | None:
    """Run every configuration in :data:`WORLD_SIZE` rank processes; results land in ``out_dir``.

    Returns None when every rank exited cleanly, else what went wrong (an exit status, a
    timeout) with the tail of the ranks' output. ``paths``: run only these paths' configurations
    (default: all). The ranks import the target by ``spec`` with
    this process's ``sys.path`` and attach ``target_spec`` (its state mapping: a reference, or
    "none"), one thread each, and die with this process.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join(os.path.abspath(p) if p else os.getcwd() for p in sys.path)
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "WORLD_SIZE": str(WORLD_SIZE),
           "ADAGRAD_DISTRIBUTED_PARENT": str(os.getpid())}  # fmt: skip
    if paths is not None:
        env["ADAGRAD_DISTRIBUTED_PATHS"] = ",".join(paths)
    procs, logs = [], []
    for rank in range(WORLD_SIZE):
        log = open(out_dir / f"rank{rank}.log", "w+b")  # closed below, after the ranks exit
        logs.append(log)
        command = [
            sys.executable,
            "-m",
            "adagrad.conformance.engine.distributed_ranks",
            spec,
            str(out_dir),
            target_spec,
        ]
        procs.append(subprocess.Popen(command, env={**env, "RANK": str(rank)}, stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL))  # fmt: skip
    deadline = time.monotonic() + timeout
    problem = None
    try:
        for rank, proc in enumerate(procs):
            try:
                status = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                problem = f"the ranks did not finish within {timeout:.0f} s (the target hangs, or a collective waits)"
                break
            if status != 0 and problem is None:
                problem = f"rank {rank} exited with status {status}"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        tails = []
        for rank, log in enumerate(logs):
            log.seek(0)
            text = log.read().decode(errors="replace").strip()
            log.close()
            if text:
                tails.append(f"--- rank {rank} output (tail) ---\n{text[-3000:]}")
    if problem is None:
        return None
    return "\n".join([problem, *tails])
