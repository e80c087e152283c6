"""Replay a case under some semantics, step by step, with the error model's tolerances.

:func:`replay` runs a :class:`~adagrad.conformance.engine.case.Case` under a
:class:`~.semantics.Semantics`, in float64 NumPy like the oracle, and yields after every step
the values with their tolerance from the suite's error model
(:class:`~adagrad.conformance.engine.error_model.ErrorTracker`, evaluated at the variant's own
values); the update of one parameter is :mod:`.update`. The oracle in ``reference/`` is not
touched: this is a second reading of the same recurrence, used only to *explain* a failure,
never to judge one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

from adagrad.conformance.diagnosis.semantics import Semantics, bound_dtype
from adagrad.conformance.diagnosis.update import _advance, _step
from adagrad.conformance.diagnosis.values import _narrower, _pairs, _real, _round, _unpairs
from adagrad.conformance.engine.case import Case
from adagrad.conformance.engine.comparison import HYPER_DEFAULTS
from adagrad.conformance.engine.error_model import ErrorTracker

__all__ = ["StepValues", "replay", "trajectory"]


class StepValues(NamedTuple):
    """After one step: values (as the target's trajectory holds them) and their tolerances."""

    params: list[np.ndarray]
    sums: list[np.ndarray | None]
    steps: list[int]
    param_bounds: list[np.ndarray | None]
    sum_bounds: list[np.ndarray | None]
    bound_dtype: str


class _Param:
    __slots__ = ("p", "s", "t", "m", "is_complex", "tracker", "pb", "sb", "live", "extra")

    def __init__(self) -> None:
        self.live = False


def replay(case: Case, sem: Semantics, *, bounds: bool = True) -> Iterator[StepValues]:
    """Run ``case`` under ``sem``; yield the values after each step (params, sums, steps, tolerances).

    Mirrors :func:`adagrad.conformance.engine.harness.run_oracle` (groups added later, edits,
    teacher forcing, missing and sparse gradients, complex parameters as real pairs, a tensor
    lr's rounding) with the update of ``sem``. With ``bounds=False`` no tolerance is computed
    (faster; the bounds are None).

    Raises:
        NotReplayable: the case has no trajectory under the spec either (a sparse gradient with
            weight decay raises in the oracle, R10).
    """
    real = _real(case.dtype)
    bdt = bound_dtype(case, sem)
    narrow_inputs = sem.compute_dtype if _narrower(sem.compute_dtype, real) else None
    hyper_dt = sem.hyper_dtype if _narrower(sem.hyper_dtype, real) else None
    # The lr held in a dtype (lr_dtype whatever the parameter's, or a narrower hyper_dtype with "lr"
    # among its keys) is a value of that dtype, and so is the decayed lr computed from it (a schedule
    # computes in the lr's dtype); only lr_dtype also computes a decoupled factor 1 - lr * wd in it
    # (Keras 3 on torch; Keras 3 on TensorFlow rounds lr, weight_decay and tau and computes
    # p - p * wd * lr in the parameter's dtype).
    factor_dt = sem.lr_dtype
    lr_dt = factor_dt or (hyper_dt if hyper_dt and (sem.hyper_keys is None or "lr" in sem.hyper_keys) else None)

    def inputs(x: np.ndarray) -> np.ndarray:
        return _round(x, narrow_inputs) if narrow_inputs else x

    def hyper_of(group: dict[str, Any], key: str) -> Any:
        # a group leaves a hyperparameter out to mean the constructor's (options) or torch's default
        value = group.get(key, case.options.get(key, HYPER_DEFAULTS[key]))
        if key == "lr":
            value = float(np.asarray(value).reshape(()))
            if case.lr_tensor_dtype is not None:
                value = _round(value, case.lr_tensor_dtype)
        if hyper_dt and key != "maximize" and (sem.hyper_keys is None or key in sem.hyper_keys):
            value = _round(value, hyper_dt)
        elif lr_dt and key == "lr":
            value = _round(value, lr_dt)
        return value

    states = [_Param() for _ in case.params]
    groups: list[dict[str, Any]] = []
    group_counts: list[int] = []
    shared = [0]

    def add_group(g: dict[str, Any]) -> None:
        group = {k: v for k, v in g.items() if k != "added_at"}
        group["_lr0"] = group.get("lr", case.options.get("lr", HYPER_DEFAULTS["lr"]))
        groups.append(group)
        group_counts.append(0)
        tau = sem.fixed_tau if sem.fixed_tau is not None else hyper_of(group, "initial_accumulator_value")
        if sem.group_tau_ignored and sem.fixed_tau is None:
            tau = hyper_of({}, "initial_accumulator_value")
        for i in group["params"]:
            st = states[i]
            st.is_complex = bool(np.iscomplexobj(case.params[i]))
            st.p = inputs(_pairs(case.params[i]))
            st.s = np.full(st.p.shape, float(tau))
            if sem.accumulator_dtype and _narrower(sem.accumulator_dtype, real):
                st.s = _round(st.s, sem.accumulator_dtype)
            st.t = 0
            st.m = np.zeros(st.p.shape)
            st.extra = 0.0
            st.live = True
            if bounds:
                st.tracker = ErrorTracker(
                    bdt, st.p.shape, initial_accumulator_value=float(tau), exact_start=case.start is not None
                )
                cur = st.tracker.current()
                st.pb, st.sb = cur.param, cur.sum

    for g in case.groups:
        if "added_at" not in g:
            add_group(g)
    if case.start is not None:
        for st, (s, t) in zip(states, case.start):
            if st.live:
                st.s = inputs(_pairs(s))
                st.t = int(t)
                if sem.step_in_dtype:
                    st.t = int(_round(float(t), real))

    for k, step_grads in enumerate(case.grads):
        for g in case.groups:
            if g.get("added_at") == k:
                add_group(g)
        for gi, key, value in case.edits.get(k, []):
            if not (sem.lr_edits_ignored and key == "lr"):
                groups[gi][key] = value
        for gi, group in enumerate(groups):
            group_counts[gi] += 1
            for i in group["params"]:
                st = states[i]
                g = step_grads[i]
                if g is None:
                    if sem.step_without_grad:
                        st.t = _advance(st.t, sem, real)
                    continue
                _step(
                    case, sem, st, g, group, gi, group_counts, shared, hyper_of, inputs, real, bounds, lr_dt, factor_dt
                )
        yield StepValues(
            params=[
                _unpairs(st.p, st.is_complex)
                if st.live
                else _unpairs(_pairs(case.params[i]), bool(np.iscomplexobj(case.params[i])))
                for i, st in enumerate(states)
            ],
            sums=[_unpairs(st.s, st.is_complex) if st.live else None for st in states],
            steps=[st.t if st.live else 0 for st in states],
            param_bounds=[st.pb if (bounds and st.live) else None for st in states],
            sum_bounds=[st.sb if (bounds and st.live) else None for st in states],
            bound_dtype=bdt,
        )


def trajectory(case: Case, sem: Semantics) -> list[tuple[list[np.ndarray], list[np.ndarray | None], list[int]]]:
    """The trajectory of ``case`` under ``sem`` in the form :func:`~adagrad.conformance.engine.harness.run_target` yields.

    Lets a variant play the target (the diagnosis tests do): float64/complex128 values.
    """
    return [(v.params, v.sums, v.steps) for v in replay(case, sem, bounds=False)]
