"""Shared by the adapter tests: running ``adagrad-conformance check`` and a few small cases."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from adagrad.conformance.engine.harness import Case
from adagrad.conformance.features import FEATURES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "exec"
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node (Node.js) is not installed")

HYPER = dict(lr=0.1, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10, maximize=False)


def run_check(*args: str, only: tuple[str, ...] = (), timeout: float = 120) -> subprocess.CompletedProcess:
    """``check`` in a subprocess, one worker, every feature but ``only`` excluded (fast)."""
    excludes = [x for f in FEATURES if only and f not in only for x in ("--exclude", f)]
    cmd = [sys.executable, "-m", "adagrad.conformance.cli", "check", *args, "-n", "1", "--no-shrink", *excludes]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def small_case(dtype: str = "float64", steps: int = 3, **hyper: float) -> Case:
    """Two parameters, a few steps of fixed gradients: exact in every dtype."""
    params = [np.array([0.5, -1.0, 2.0]), np.array([[0.25, -0.75]])]
    grads = [[np.array([0.5, 0.25, -1.0]) * (k + 1), np.array([[1.0, -0.5]])] for k in range(steps)]
    return Case(dtype=dtype, params=params, grads=grads, groups=[{**HYPER, **hyper, "params": [0, 1]}])
