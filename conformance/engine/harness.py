"""Run one case on a target and have it judged by the oracle's process.

A :class:`~.case.Case` is plain data: dtype, param groups with their hyperparameters, initial
values, a gradient (dense, sparse or None) per parameter per step, optional edits of
hyperparameters between steps, and optionally a starting state (teacher forcing).
:func:`check_case` runs it on the target (through torch's Optimizer API only), reads what the
target holds after each step bit-exactly (:mod:`.tensor_bits`), and sends case and trajectory to
the oracle's process (:mod:`.oracle_service`), which runs :class:`adagrad.reference.ReferenceAdagrad`
and compares under the error model (:mod:`.comparison`). No oracle arithmetic and no comparison
runs in the process that runs the target. A deviation raises :class:`ConformanceFailure` with the
first failing step and a reproducing snippet (:mod:`.snippet`).

This module is what feature tests import: judging lives here; running a case on the target is
:mod:`.target_run` (with :mod:`.torch_io` and :mod:`.case_refusals`), re-exported here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from hypothesis import reject
from hypothesis.control import currently_in_test_context

from adagrad.conformance.engine.case import Case, Trajectory, clone_case
from adagrad.conformance.engine.codec import encode_case, encode_trajectory
from adagrad.conformance.engine.comparison import OutsideErrorModel, compare_arrays, run_oracle
from adagrad.conformance.engine.snippet import snippet
from adagrad.conformance.engine.target import Target
from adagrad.conformance.engine.target_run import (
    build_target,
    read_step,
    run_target,
    run_target_steps,
    target_state,
)
from adagrad.conformance.engine.torch_io import (
    to_numpy,
    to_torch,
)
from adagrad.conformance.pytest_plugin.run_state import first_failure, test_id

__all__ = [
    "Case",
    "ConformanceFailure",
    "OutsideErrorModel",
    "build_target",
    "check_case",
    "clone_case",
    "compare_arrays",
    "judge",
    "read_step",
    "run_target_steps",
    "run_oracle",
    "run_target",
    "refuse_whole_test",
    "snippet",
    "torch_layout_required",
    "target_state",
    "to_numpy",
    "to_torch",
]

Recorder = Callable[[float], None]


class ConformanceFailure(AssertionError):
    """A target's result is outside the error model (or structurally wrong).

    ``details`` holds the structured failure (step, tensor, index, values, ulps, tolerance) and
    ``size`` the case's size (elements x steps), for the report.
    """

    def __init__(self, message: str, details: dict[str, Any] | None = None, size: int | None = None) -> None:
        super().__init__(message)
        self.details = details or {}
        self.size = size


# -- judging --------------------------------------------------------------------------------------
def _oracle():
    from adagrad.conformance.engine.oracle_service import OracleClient

    return OracleClient.start()


def _current_test() -> str | None:
    test = os.environ.get("PYTEST_CURRENT_TEST", "")
    return test.rsplit(" (", 1)[0] or None


def judge(
    target: Target, case: Case, trajectory: Trajectory, record: Recorder | None = None, *, what: str = ""
) -> float:
    """Have the oracle's process judge ``trajectory`` (the target's steps of ``case``).

    Returns the worst error in ulps; raises :class:`ConformanceFailure` on a deviation; a drawn
    case outside the error model is rejected (hypothesis draws another), a fixed one fails.
    """

    answer = _oracle().request(
        {
            "op": "check",
            "case": encode_case(case),
            "trajectory": encode_trajectory(trajectory),
            "test_id": test_id(_current_test() or ""),
        }
    )
    record_steps = getattr(record, "record_steps", None)
    if record_steps is not None and answer["per_step"]:
        record_steps(case.real_dtype, answer["per_step"])
    record_size = getattr(record, "record_size", None)
    if record_size is not None:
        record_size(case.size)
    if answer["outside"]:
        if currently_in_test_context():
            reject()  # a drawn case outside the model's domain: draw another
        _fail(target, case, answer["outside"], what, {"statement": answer["outside"]})
    failure = answer["failure"]
    if failure is not None:
        _fail(target, case, failure["statement"], what, failure)
    if record is not None:
        record(answer["worst_ulps"])
    return float(answer["worst_ulps"])


def check_case(target: Target, case: Case, record: Recorder | None = None, *, what: str = "") -> float:
    """Run ``case`` on target, have the oracle judge it; raise :class:`ConformanceFailure` if off.

    Returns the worst error seen, in ulps of the dtype; ``record`` receives it too. A recorder
    with ``record_steps(dtype, errors)`` (the plugin's) also receives the worst error of each step,
    the failing step included, for plots of error against step.
    """
    trajectory: Trajectory = []
    try:
        for st in run_target_steps(target, case):
            trajectory.append(st)
            if st.error:
                break
    except Exception as exc:  # target code raised: the first failure is recorded before shrinking
        first_failure(
            f"{what + ': ' if what else ''}the target raised {type(exc).__name__}: {exc}",
            case.size,
            kind=type(exc).__name__,
        )
        raise
    return judge(target, case, trajectory, record, what=what)


def _fail(target: Target, case: Case, message: str, what: str, details: dict[str, Any]) -> None:
    from adagrad.conformance.engine.refusals import engaged

    engaged()  # a refusal met while hypothesis shrinks this failure must not hide it
    head = f"{what}: " if what else ""
    first_failure(head + message, case.size, details)
    raise ConformanceFailure(
        f"{head}{message}\n\nReproduce with:\n{snippet(target, case)}",
        {**details, "snippet": snippet(target, case)},
        case.size,
    )


def refuse_whole_test(target: Target, reason: str) -> None:
    """The whole test is unsupported for ``target`` with ``reason`` (a failure under
    ``--strict-support``); for a target the suite did not load (no spec) this does nothing and
    the caller's own assertion decides."""
    if getattr(target, "target_spec", None) is None:
        return
    from adagrad.conformance.engine.refusals import refuse

    refuse(target, reason, whole_test=True)


def torch_layout_required(target: Target, subject: str) -> None:
    """A test whose subject is torch's own state_dict layout (``subject``) is unsupported for a
    target that declares its own layout (a state mapping in its target spec)."""
    spec = getattr(target, "target_spec", None)
    if spec is not None and spec.state is not None:
        refuse_whole_test(
            target, f"{subject} is torch's state_dict layout; the target declares its own (state mapping)"
        )
