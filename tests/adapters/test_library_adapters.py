"""Each library adapter follows the functional protocol, runs a step through the bridge, and
refuses (as unsupported) what its library cannot express. Skipped, with the reason, where the
library is not installed (CI installs none of them; ``make compat`` runs them all)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from .adapter_helpers import ROOT

#: (module, class, libraries it needs, a hyperparameter the library lacks)
ADAPTERS = [
    ("optax_adagrad", "OptaxAdagrad", ("optax", "jax"), {"weight_decay": 0.1}),
    ("keras_adagrad", "KerasAdagrad", ("keras",), {"maximize": True}),
    ("tensorflow_adagrad", "ApplyAdagradV2", ("tensorflow",), {"lr_decay": 0.1}),
    ("mlx_adagrad", "MlxAdagrad", ("mlx.core",), {"initial_accumulator_value": 0.5}),
    ("paddle_adagrad", "PaddleAdagrad", ("paddle",), {"maximize": True}),
    ("onnx_adagrad", "OnnxAdagrad", ("onnx",), {"maximize": True}),
]


def _script(module: str, cls: str, lacking: dict) -> str:
    """The check, run in a fresh interpreter: these libraries crash when imported together
    (paddle after tensorflow segfaults), and the suite runs each in its own process too."""
    return f"""
import numpy as np
from adagrad.conformance.adapters import Unsupported
from adagrad.conformance.adapters.functional import FunctionalAdagrad, bridge
from adagrad.conformance.adapters.{module} import {cls}
from adagrad.conformance.engine.harness import run_target
from adagrad.conformance.engine.target import Target
from tests.adapters.adapter_helpers import HYPER, small_case

impl = {cls}()
assert isinstance(impl, FunctionalAdagrad)
steps = list(run_target(Target("{module}", bridge(impl)), small_case("float32", steps=2)))
params, sums, counts = steps[-1]
assert [p.shape for p in params] == [(3,), (1, 2)] and counts == [2, 2], (params, counts)
assert all(np.all(np.isfinite(s)) and np.all(s > 0) for s in sums), sums
try:
    impl.init([np.zeros(2, dtype=np.float32)], {{**HYPER, **{lacking!r}}})
except Unsupported as exc:
    print("refused:", exc)
else:
    raise AssertionError("{lacking} was accepted")
"""


@pytest.mark.parametrize(("module", "cls", "needs", "lacking"), ADAPTERS, ids=[a[0] for a in ADAPTERS])
def test_adapter_runs_a_step_and_refuses_what_it_lacks(module, cls, needs, lacking):
    for name in needs:
        if importlib.util.find_spec(name.split(".")[0]) is None:
            pytest.skip(f"{name} is not installed (pip install -c constraints.txt -e '.[compat]'; make compat)")
    proc = subprocess.run(
        [sys.executable, "-c", _script(module, cls, lacking)], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "refused:" in proc.stdout
