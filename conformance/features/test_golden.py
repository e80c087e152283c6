"""Golden trajectories: every case stored in ``fixtures/`` replayed on the target (rules they list).

Unlike the other features, nothing here runs the oracle: the expected params, sums and step
counts after every step are the stored ones (:mod:`adagrad.fixtures`). The tolerance follows
the error model along that stored (exact) trajectory, as for a free-running case.

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

from adagrad.conformance.error_model import ErrorTracker
from adagrad.conformance.features import feature
from adagrad.conformance.harness import Case as HarnessCase
from adagrad.conformance.harness import ConformanceFailure, compare_arrays, run_target, snippet
from adagrad.fixtures import Case, FixtureError, load_cases
from adagrad.reference import SparseGrad

pytestmark = feature("golden")

_REAL = {"complex64": "float32", "complex128": "float64", "bfloat16": "bfloat16"}

#: Features a golden case also needs, by the rules it lists: a target that excludes one of them
#: (``--exclude sparse`` for a fused path) skips those cases, with the reason, instead of failing.
RULE_FEATURES = {"R9": "sparse", "R10": "sparse", "R11": "complex", "R15": "missing-grads", "R25": "non-finite",
                 "R31": "lr-schedule", "R12": "groups", "R13": "groups"}
DTYPE_FEATURES = {"float16": "numerics-float16", "bfloat16": "numerics-bfloat16", "complex64": "complex",
                  "complex128": "complex"}


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
    options = {} if len(groups) == 1 else {"initial_accumulator_value": case.groups[0].initial_accumulator_value}
    edits = {k: [(gi, key, value) for gi, changes in step.set_groups for key, value in changes.items()]
             for k, step in enumerate(case.steps) if step.set_groups}
    return HarnessCase(
        dtype=case.dtype,
        params=[np.array(p) for p in case.params],
        grads=[list(step.grads) for step in case.steps],
        groups=groups,
        options=options,
        edits=edits,
    )


def golden_bounds(case: Case) -> list[tuple[list[np.ndarray], list[np.ndarray]]]:
    """Per step, the error model's tolerance for every param and sum (as real pairs)."""
    real = _REAL.get(case.dtype, case.dtype)
    hyper = [g.hyperparameters() for g in case.groups]
    group_of = {i: gi for gi, g in enumerate(case.groups) for i in g.params}
    trackers = [ErrorTracker(real, _pairs(p).shape, initial_accumulator_value=hyper[group_of[i]]["initial_accumulator_value"])
                for i, p in enumerate(case.params)]
    wide = np.complex128 if case.dtype.startswith("complex") else np.float64
    params = [np.asarray(p, dtype=wide) for p in case.params]
    sums = [np.full(p.shape, complex(h, h) if wide is np.complex128 else h, dtype=wide)
            for p, h in ((p, hyper[group_of[i]]["initial_accumulator_value"]) for i, p in enumerate(params))]
    counts = [0] * len(params)
    bounds = [(np.zeros(_pairs(p).shape), np.zeros(_pairs(p).shape)) for p in params]
    out = []
    for step in case.steps:
        for gi, changes in step.set_groups:
            hyper[gi] = {**hyper[gi], **changes}
        for i, g in enumerate(step.grads):
            if g is None:
                continue
            h = {k: v for k, v in hyper[group_of[i]].items() if k != "initial_accumulator_value"}
            dense, touched = _dense(g, params[i].shape, wide)
            if touched is not None and wide is np.complex128:
                touched = np.stack([touched, touched], axis=-1)
            b = trackers[i].step(_pairs(params[i]), _pairs(dense), _pairs(sums[i]), counts[i], touched=touched, **h)
            bounds[i] = (b.param, b.sum)
        out.append(([b[0] for b in bounds], [b[1] for b in bounds]))
        params, sums, counts = list(step.expected_params), list(step.expected_sums), list(step.expected_steps)
    return out


@pytest.mark.parametrize("case", _collect())
def test_golden_trajectory(target, record_ulps, case, pytestconfig):
    """Every step of a stored trajectory: params and sums within the error model, steps exact."""
    if isinstance(case, FixtureError):
        pytest.fail(f"golden fixtures are damaged; regenerate with `make fixtures` or restore them:\n{case}",
                    pytrace=False)
    excluded = needed_features(case) & set(pytestconfig.getoption("--adagrad-exclude"))
    if excluded:
        pytest.skip(f"excluded: golden case {case.name} needs feature(s) {', '.join(sorted(excluded))}")
    real = _REAL.get(case.dtype, case.dtype)
    hcase = to_harness_case(case)
    worst = 0.0
    where = f"golden case {case.name} (fixtures/{case.file}, rules {', '.join(case.rules)})"
    for k, (got, step, (b_params, b_sums)) in enumerate(zip(run_target(target, hcase), case.steps, golden_bounds(case))):
        params, sums, counts = got
        for i in range(len(case.params)):
            problems = []
            if counts[i] != step.expected_steps[i]:
                problems.append(f"step count {counts[i]}, expected {step.expected_steps[i]}")
            for name, actual, expected, bound in (("param", params[i], step.expected_params[i], b_params[i]),
                                                  ("sum", sums[i], step.expected_sums[i], b_sums[i])):
                if actual is None:
                    problems.append(f"no {name}")
                    continue
                ulps, problem = compare_arrays(actual, expected, bound, real)
                worst = max(worst, ulps if np.isfinite(ulps) else worst)
                if problem:
                    problems.append(f"{name}: {problem}")
            if problems:
                raise ConformanceFailure(
                    f"{where}: param {i} after step {k + 1}: " + "; ".join(problems)
                    + f"\n\nReproduce with:\n{snippet(target, hcase)}"
                )
    record_ulps(worst)
