"""The functional protocol and its bridge: a conformant NumPy Adagrad passes the harness, what an
implementation cannot express is unsupported (never a failure), protocol breaches are named."""

from __future__ import annotations

import numpy as np
import pytest

from adagrad.conformance.adapters import AdapterError, resolve
from adagrad.conformance.adapters.functional import FunctionalAdagrad, bridge, check_protocol
from adagrad.conformance.adapters.numpy_example import NumpyAdagrad
from adagrad.conformance.engine.harness import ConformanceFailure, check_case, clone_case
from adagrad.conformance.engine.target import Target

from .adapter_helpers import run_check, small_case

TARGET = Target("numpy_example", bridge(NumpyAdagrad()))


class StepRecorder:
    """A recorder with the optional per-step method, as the plugin's."""

    def __init__(self) -> None:
        self.worst: list[float] = []
        self.steps: list[tuple[str, list[float]]] = []

    def __call__(self, value: float) -> None:
        self.worst.append(value)

    def record_steps(self, dtype: str, errors: list[float]) -> None:
        self.steps.append((dtype, errors))


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
@pytest.mark.parametrize(
    "hyper",
    [{}, {"lr_decay": 0.1, "weight_decay": 0.05, "maximize": True, "initial_accumulator_value": 0.5}],
    ids=["defaults", "all-flags"],
)
def test_numpy_example_conforms_through_the_bridge(dtype, hyper):
    """The template implementation is within the error model; per-step errors are recorded."""
    rec = StepRecorder()
    check_case(TARGET, small_case(dtype, **hyper), rec)
    assert len(rec.worst) == 1 and rec.steps and rec.steps[0][0] == dtype and len(rec.steps[0][1]) == 3


def test_missing_gradients_and_teacher_forcing():
    """None gradients reach the implementation; a loaded (sum, step) is where the step starts."""
    case = small_case()
    grads = [[g if (k + i) % 2 else None for i, g in enumerate(step)] for k, step in enumerate(case.grads)]
    check_case(TARGET, clone_case(case, grads=grads))
    start = [(np.array([1.0, 2.0, 0.5]), 7), (np.array([[0.25, 4.0]]), 7)]
    check_case(TARGET, clone_case(case, start=start, grads=case.grads[:1]))


class EpsInsideSqrt(NumpyAdagrad):
    """A wrong implementation: the suite must fail it."""

    def step(self, state, params, grads):
        h = state.hyper
        out, sums = [], []
        for p, g, s in zip(params, grads, state.sums):
            s = s + g * g
            out.append(p - h["lr"] * g / np.sqrt(s + h["eps"]))
            sums.append(s)
        return out, state._replace(sums=sums, steps=[t + 1 for t in state.steps])


def test_a_wrong_implementation_fails():
    with pytest.raises(ConformanceFailure, match="outside the error model"):
        check_case(Target("wrong", bridge(EpsInsideSqrt())), small_case(eps=0.1))


class NoWeightDecay(NumpyAdagrad):
    def init(self, params, hyperparameters):
        from adagrad.conformance.adapters import Unsupported

        if hyperparameters["weight_decay"]:
            raise Unsupported("weight_decay (this library has none)")
        return super().init(params, hyperparameters)


def test_unsupported_hyperparameter_skips_with_the_reason():
    """Outside hypothesis an Unsupported request skips the test, saying why: never a failure."""
    with pytest.raises(pytest.skip.Exception, match="unsupported: weight_decay"):
        check_case(Target("nowd", bridge(NoWeightDecay())), small_case(weight_decay=0.1))


def test_path_options_and_sparse_are_unsupported():
    import torch

    make = bridge(NumpyAdagrad())
    with pytest.raises(pytest.skip.Exception, match="fused=True"):
        make([torch.zeros(2, requires_grad=True)], fused=True)
    p = torch.zeros(3, requires_grad=True)
    opt = make([p])
    p.grad = torch.sparse_coo_tensor([[0]], [1.0], (3,))
    with pytest.raises(pytest.skip.Exception, match="sparse"):
        opt.step()


def test_protocol_breaches_are_named():
    assert isinstance(NumpyAdagrad(), FunctionalAdagrad)

    class Half:
        features = ["golden"]

        def init(self, params, hyperparameters):
            return None

    with pytest.raises(AdapterError, match="no step, accumulators"):
        check_protocol(Half(), "Half")


def test_resolve_declares_unsupported_features():
    resolved = resolve("adagrad.conformance.adapters.numpy_example:NumpyAdagrad", "functional")
    assert "state-dict" in resolved.unsupported and "numerics-float64" not in resolved.unsupported
    assert "resolve(" in resolved.target.loader  # reproduction snippets rebuild the bridge


def test_check_cli_functional_adapter():
    """``check --adapter functional``: conformant, and torch-API features reported unsupported."""
    proc = run_check(
        "--adapter",
        "functional",
        "adagrad.conformance.adapters.numpy_example:NumpyAdagrad",
        only=("numerics-float64", "state-dict"),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "not claimed" in proc.stdout and "Verdict: CONFORMANT" in proc.stdout
