"""`adagrad-conformance check` passes adagrad.impl, whole and with each path forced (issue 4).

The forced-path targets cannot serve some requests (adagrad/impl/targets.py says which): those
features are excluded by name, as a user checking such a path would.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

#: The forced paths cost about 30-50 s of CPU each, more than CI's budget allows beside
#: everything else: they run with `make check-impl-paths` (marker ``impl_paths``).
CHECKS = [
    # the whole check of adagrad.impl runs in CI as tests/conformance/test_zoo.py::test_impl_gets_no_divergences
    pytest.param("adagrad.impl:Adagrad", [], {}, id="impl", marks=pytest.mark.impl_paths),
    pytest.param("adagrad.impl.targets:for_loop", [], {}, id="for_loop", marks=pytest.mark.impl_paths),
    pytest.param(
        "adagrad.impl.targets:foreach", ["differentiable", "fused"], {}, id="foreach", marks=pytest.mark.impl_paths
    ),
    pytest.param(
        "adagrad.impl.targets:fused",
        ["differentiable", "sparse", "complex", "foreach"],
        {"TRITON_INTERPRET": "1"},
        id="fused-triton-interpreter",
        marks=pytest.mark.impl_paths,
    ),
]


@pytest.mark.parametrize(("target", "excluded", "env"), CHECKS)
def test_check_passes(tmp_path, target, excluded, env):
    """R27: the quick check exits 0 for the implementation and each forced path."""
    pytest.importorskip("triton") if env.get("TRITON_INTERPRET") else None
    cmd = [sys.executable, "-m", "adagrad.conformance.cli", "check", target, "--profile", "quick", "-n", "1"]
    cmd += [a for f in excluded for a in ("--exclude", f)]
    proc = subprocess.run(cmd, cwd=tmp_path, env={**os.environ, **env}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert "Verdict: CONFORMANT" in proc.stdout
