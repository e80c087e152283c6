"""Golden trajectories: every case stored in ``fixtures/`` replayed on the target (rules they list).

Each stored case is run through the same engine as every other case (:func:`~adagrad.conformance.engine.harness.check_case`:
one error model, one comparison, in the oracle's own process). The oracle's trajectory for a
stored case is the stored one bit for bit: ``adagrad-conformance fixtures check`` regenerates
every case with the oracle and compares (and the golden files serve implementations in other
languages directly: docs/fixtures.md).

The fixtures are verified when this module is collected (manifest digests, missing or unlisted
files, schema): a damaged tree makes the feature fail with a message naming each file and what
is wrong, never pass or skip. A case's test id is its name; cases exercising a rule on which a
target is known to diverge (``rules`` lists R13 for torch's D1) are matched in the known-
divergences file by that id, e.g. ``test_golden.py::test_golden_trajectory[groups-per-group-tau-float64]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from adagrad.conformance.engine.harness import Case as HarnessCase
from adagrad.conformance.engine.harness import check_case
from adagrad.conformance.features import feature, skip_case
from adagrad.conformance.pytest_plugin.target_loading import STATE_KEY
from adagrad.fixtures import Case, FixtureError, load_cases
from adagrad.reference import SparseGrad

pytestmark = feature("golden")

_REAL = {"complex64": "float32", "complex128": "float64", "bfloat16": "bfloat16"}

#: Features a golden case also needs, by the rules it lists: a target that excludes one of them
#: (``--exclude sparse`` for a fused path) skips those cases, with the reason, instead of failing.
RULE_FEATURES = {
    "R9": "sparse",
    "R10": "sparse",
    "R11": "complex",
    "R15": "missing-grads",
    "R25": "non-finite",
    "R31": "lr-schedule",
    "R12": "groups",
    "R13": "groups",
}
DTYPE_FEATURES = {
    "float16": "numerics-float16",
    "bfloat16": "numerics-bfloat16",
    "complex64": "complex",
    "complex128": "complex",
}


def needed_features(case: Case) -> set[str]:
    """The other features a case depends on (from its rules and dtype)."""
    found = {RULE_FEATURES[r] for r in case.rules if r in RULE_FEATURES}
    return found | ({DTYPE_FEATURES[case.dtype]} if case.dtype in DTYPE_FEATURES else set())


def _collect() -> list[Any]:
    """One parameter per stored case, or a single failing one if the fixture tree is damaged."""
    try:
        cases = load_cases()
    except FixtureError as exc:
        return [pytest.param(exc, id="fixtures-damaged")]
    return [pytest.param(case, id=case.name) for case in cases]


def _pairs(x: np.ndarray) -> np.ndarray:
    """Complex values as (..., 2) real pairs (R11), real ones as float64."""
    x = np.asarray(x)
    return np.stack([x.real, x.imag], axis=-1).astype(np.float64) if np.iscomplexobj(x) else x.astype(np.float64)


def _dense(g: Any, shape: tuple[int, ...], dtype: np.dtype) -> tuple[np.ndarray, np.ndarray | None]:
    """A gradient as a dense array, and for a sparse one the mask of the elements it touches."""
    if not isinstance(g, SparseGrad):
        return np.asarray(g), None
    dense = np.zeros(shape, dtype=dtype)
    np.add.at(dense, tuple(np.asarray(g.indices)), np.asarray(g.values, dtype=dtype))
    touched = np.zeros(shape, dtype=bool)
    touched[tuple(np.asarray(g.indices))] = True
    return dense, touched


def to_harness_case(case: Case) -> HarnessCase:
    """The golden case as the harness runs it; group 0's tau is also the constructor's.

    The harness passes a single group's hyperparameters as constructor keywords. With several
    groups, tau is passed to the constructor as well, because a target may ignore a group's own
    tau (torch, D1): then only cases whose groups differ in tau (rule R13) can tell.
    """
    groups = [{**g.hyperparameters(), "params": list(g.params)} for g in case.groups]
    tau = case.groups[0].initial_accumulator_value
    options = {"initial_accumulator_value": tau} if len(groups) > 1 and tau else {}
    edits = {
        k: [(gi, key, value) for gi, changes in step.set_groups for key, value in changes.items()]
        for k, step in enumerate(case.steps)
        if step.set_groups
    }
    return HarnessCase(
        dtype=case.dtype,
        params=[np.array(p) for p in case.params],
        grads=[list(step.grads) for step in case.steps],
        groups=groups,
        options=options,
        edits=edits,
    )


@pytest.mark.parametrize("case", _collect())
def test_golden_trajectory(target, record_ulps, case, pytestconfig):
    """Every step of a stored trajectory: params and sums within the error model, steps exact."""
    if isinstance(case, FixtureError):
        pytest.fail(
            f"golden fixtures are damaged; regenerate with `make fixtures` or restore them:\n{case}", pytrace=False
        )
    needed = needed_features(case)
    unclaimed = needed & set(pytestconfig.stash.get(STATE_KEY, {}).get("unsupported", ()))
    if unclaimed:
        skip_case(f"not claimed: golden case {case.name} needs feature(s) {', '.join(sorted(unclaimed))}")
    excluded = needed & set(pytestconfig.getoption("--adagrad-exclude"))
    if excluded:
        skip_case(f"excluded: golden case {case.name} needs feature(s) {', '.join(sorted(excluded))}")
    where = f"golden case {case.name} (fixtures/{case.file}, rules {', '.join(case.rules)})"
    check_case(target, to_harness_case(case), record_ulps, what=where)
