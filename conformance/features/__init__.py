"""The suite's features: named groups of tests a target may exclude (``--exclude NAME``).

Each test module marks its tests with :func:`feature`; :data:`FEATURES` lists every name with
what it checks. Nothing is excluded by default.
"""

from __future__ import annotations

import pytest

__all__ = ["FEATURES", "feature", "requires", "skip_case"]

FEATURES: dict[str, str] = {
    "numerics-float64": "float64 steps against the oracle: teacher-forced and free-running (R1, R30)",
    "numerics-float32": "float32 steps against the oracle (R1, R30)",
    "numerics-float16": "float16 steps against the oracle (R1, R30, D3)",
    "numerics-bfloat16": "bfloat16 steps against the oracle (R1, R30)",
    "hyperparameters": "every combination of lr_decay, weight_decay, tau, eps (tiny/large/zero), maximize (R3-R7)",
    "foreach": "the foreach path (foreach=True) against the oracle (R27)",
    "fused": "the fused path (fused=True) against the oracle, and its errors (R27)",
    "sparse": "sparse COO gradients, uncoalesced with duplicates (R9, R10)",
    "complex": "complex parameters as real pairs (R11)",
    "differentiable": "differentiable=True: gradients through the step (R28)",
    "tensor-lr": "lr as a 1-element tensor (R8)",
    "groups": "param groups with their own hyperparameters, add_param_group mid-run (R12, R13, R16)",
    "missing-grads": "parameters without gradients for some steps (R15)",
    "lr-schedule": "hyperparameters edited in param_groups mid-run (R31)",
    "state-dict": "state_dict format, resume, interchange with torch (R14, R17, R18)",
    "hooks": "the six hook registrations: calls, order, return values, removal (R19-R21)",
    "zero-grad": "zero_grad defaults (R22)",
    "closure": "step(closure) (R23)",
    "validation": "constructor errors: types and messages (R24)",
    "non-finite": "NaN and inf gradients (R25)",
    "layouts": "non-contiguous parameters and gradients (R29)",
    "grad-readonly": "step does not modify gradients (R26)",
    "shapes": "0-dim, empty, and large tensors (R1)",
    "golden": "the golden trajectories in fixtures/ (all rules they list)",
    "lifecycle": "deepcopy, pickle and torch.save/load round trips, older state_dict layouts (R18)",
    "distributed": (
        "FSDP2 (fully_shard) and DDP, 2 gloo processes, every claimed path, against the oracle at every step (R1, R14)"
    ),
}


def feature(name: str) -> pytest.MarkDecorator:
    """Mark a test (or a module, through ``pytestmark``) as part of feature ``name``."""
    if name not in FEATURES:
        raise ValueError(f"unknown feature {name!r}")
    return pytest.mark.feature(name)


def requires(*names: str) -> pytest.MarkDecorator:
    """Mark a test that also needs other features (e.g. a layout test on the fused path).

    The test is excluded when any of them is, and reported under its own feature.
    """
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}")
    return pytest.mark.requires(*names)


def skip_case(reason: str) -> None:
    """Skip the running test for a reason the suite itself planned (``excluded: ...``).

    Only the suite skips: a ``pytest.skip`` raised by target code during a test is that test's
    failure (the plugin checks the mark this sets).
    """
    exc = pytest.skip.Exception(reason)
    exc._adagrad_sanctioned = True  # type: ignore[attr-defined]
    raise exc
