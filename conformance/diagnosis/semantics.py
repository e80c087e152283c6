"""Adagrad with its semantics changed by switches: the oracle's update, one knob per variant.

:class:`Semantics` with every field at its default is the spec's R1 (what ``adagrad.reference``
computes); each field is one documented departure from it, and the catalogue
(:mod:`.catalogue`) names them. :func:`replay` runs a :class:`~adagrad.conformance.engine.harness.Case`
under some semantics, in float64 NumPy like the oracle, and yields after every step the values
with their tolerance from the suite's error model (:class:`~adagrad.conformance.engine.error_model.ErrorTracker`,
evaluated at the variant's own values). The oracle in ``reference/`` is not touched: this
module is a second reading of the same recurrence, used only to *explain* a failure, never to
judge one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import numpy as np

from adagrad.conformance.engine.dtypes import FORMATS, round_to
from adagrad.conformance.engine.error_model import ErrorTracker
from adagrad.conformance.engine.harness import Case
from adagrad.reference import SparseGrad, densify

__all__ = ["NotReplayable", "Semantics", "StepValues", "replay", "trajectory"]

#: torch's (and the oracle's) defaults, for a hyperparameter a case's group leaves out.
DEFAULTS: dict[str, Any] = {
    "lr": 1e-2,
    "lr_decay": 0.0,
    "weight_decay": 0.0,
    "initial_accumulator_value": 0.0,
    "eps": 1e-10,
    "maximize": False,
}


class NotReplayable(ValueError):
    """The case cannot be replayed under these semantics (e.g. a sparse gradient with weight decay, R10)."""


@dataclass(frozen=True)
class Semantics:
    """Switches on the update; all defaults = spec R1. Each field is documented in :mod:`.catalogue`."""

    eps_inside: bool = False  # sqrt(s + eps)
    eps_absent: bool = False  # sqrt(s), no eps at all
    eps_value: float | None = None  # a fixed eps replaces the given one
    eps_zero_default: float | None = None  # eps == 0 silently replaced by this value
    guard_zero: bool = False  # update 0 where the accumulator is 0 (no 0/0 NaN): where(s > 0, 1/d, 0) * g
    guard_update: bool = False  # update 0 unless the accumulator is positive, NaN g too: where(s > 0, g/d, 0)
    no_sqrt: bool = False  # s + eps instead of sqrt(s) + eps
    old_accumulator: bool = False  # the update divides by the accumulator before this step's g^2
    decoupled_wd: bool = False  # p -= clr * wd * p, the gradient left alone
    wd_not_accumulated: bool = False  # s += g^2 without wd; the update uses g + wd p
    wd_always: bool = False  # g + wd p computed for wd == 0 too (0 * inf and 0 * nan are nan)
    maximize_after_wd: bool = False  # g = -(g + wd p)
    maximize_ignored: bool = False  # maximize has no effect
    fixed_tau: float | None = None  # the accumulator starts at this value whatever tau
    hyper_dtype: str | None = None  # lr, lr_decay, wd, eps, tau rounded to this dtype (float64 params)
    hyper_keys: tuple[str, ...] | None = None  # with hyper_dtype: only these are rounded (None: all)
    lr_dtype: str | None = None  # lr held in this dtype, the decoupled factor 1 - lr wd computed in it
    decay_dtype: str | None = None  # the factor 1 / (1 + (t-1) lr_decay) computed in this dtype
    compute_dtype: str | None = None  # inputs rounded to this dtype, arithmetic bounded in it
    accumulator_dtype: str | None = None  # the accumulator stored in this dtype
    momentum: float | None = None  # m = (1-b) g/d + b m; p -= clr m
    lr_decay_offset: int = 0  # 1: lr / (1 + t lr_decay)
    lr_decay_ignored: bool = False  # lr_decay has no effect
    group_tau_ignored: bool = False  # every group starts at the constructor's tau (torch's D1)
    decay_counter: str = "param"  # "param" (R2/R3), "group" (step() calls of the group), "shared"
    step_without_grad: bool = False  # t advances for a parameter without a gradient
    step_in_dtype: bool = False  # t held in the parameter's dtype
    nonfinite_clamp: float | None = None  # NaN -> 0, +-inf -> +-value in the gradient
    lr_edits_ignored: bool = False  # the lr a group was created with is used throughout
    sparse_square_first: bool = False  # duplicate sparse entries squared, then summed
    complex_shared: bool = False  # one accumulator |g|^2 for both parts of a complex parameter
    flush_subnormals: bool = False  # subnormal inputs and results read and written as zero (FTZ/DAZ)

    def changed(self) -> dict[str, Any]:
        """The fields that differ from R1."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != f.default}


class StepValues(NamedTuple):
    """After one step: values (as the target's trajectory holds them) and their tolerances."""

    params: list[np.ndarray]
    sums: list[np.ndarray | None]
    steps: list[int]
    param_bounds: list[np.ndarray | None]
    sum_bounds: list[np.ndarray | None]
    bound_dtype: str


_PRECISION = {name: fmt.precision for name, fmt in FORMATS.items()}


def _real(dtype: str) -> str:
    return {"complex64": "float32", "complex128": "float64"}.get(dtype, dtype)


def _narrower(dtype: str | None, than: str) -> bool:
    return dtype is not None and _PRECISION[dtype] < _PRECISION[than]


def _pairs(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if np.iscomplexobj(x):
        return np.stack([x.real, x.imag], axis=-1).astype(np.float64)
    return x.astype(np.float64, copy=True)


def _unpairs(x: np.ndarray, is_complex: bool) -> np.ndarray:
    x = np.asarray(x)  # 0-d arithmetic gives scalars; keep arrays
    return np.asarray(x[..., 0] + 1j * x[..., 1]) if is_complex else np.array(x, dtype=np.float64)


def _round(x: Any, dtype: str) -> Any:
    """Round to ``dtype``: a Python or NumPy scalar stays a Python float, an array (0-d too) stays an array."""
    if not isinstance(x, np.ndarray):
        return float(round_to(np.array(float(x)), dtype))
    return round_to(np.asarray(x, dtype=np.float64), dtype)


class _Param:
    __slots__ = ("p", "s", "t", "m", "is_complex", "tracker", "pb", "sb", "live", "extra")

    def __init__(self) -> None:
        self.live = False


def bound_dtype(case: Case, sem: Semantics) -> str:
    """The dtype whose error model bounds a replay: the case's, or a narrower one the variant computes in."""
    real = _real(case.dtype)
    narrow = [d for d in (sem.compute_dtype, sem.accumulator_dtype) if _narrower(d, real)]
    return min(narrow, key=lambda d: _PRECISION[d]) if narrow else real


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
        value = group.get(key, case.options.get(key, DEFAULTS[key]))
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
        group["_lr0"] = group.get("lr", case.options.get("lr", DEFAULTS["lr"]))
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


def _advance(t: int, sem: Semantics, real: str) -> int:
    if sem.step_in_dtype:
        return int(_round(float(t + 1), real))
    return t + 1


def _step(case, sem, st, g, group, gi, group_counts, shared, hyper_of, inputs, real, bounds, lr_dt, factor_dt) -> None:
    """One parameter's update under ``sem`` (in real pairs), its tolerance from the error model."""
    lr = hyper_of(group, "lr") if not sem.lr_edits_ignored else _lr0(case, group, hyper_of)
    lr_decay = 0.0 if sem.lr_decay_ignored else hyper_of(group, "lr_decay")
    wd = hyper_of(group, "weight_decay")
    eps = hyper_of(group, "eps")
    maximize = (
        bool(group.get("maximize", case.options.get("maximize", DEFAULTS["maximize"]))) and not sem.maximize_ignored
    )
    if sem.eps_value is not None:
        eps = float(sem.eps_value)
    if sem.eps_zero_default is not None and eps == 0:
        eps = float(sem.eps_zero_default)
    if sem.eps_absent:
        eps = 0.0

    # step counter and the t the lr decay uses
    if sem.decay_counter == "shared":
        shared[0] += 1
        st.t = shared[0]
        t_decay = st.t
    else:
        st.t = _advance(st.t, sem, real)
        t_decay = group_counts[gi] if sem.decay_counter == "group" else st.t
    n = t_decay - 1 + sem.lr_decay_offset
    if sem.decay_dtype and _narrower(sem.decay_dtype, real):
        dt = np.dtype(sem.decay_dtype) if sem.decay_dtype != "bfloat16" else np.dtype(np.float32)
        one = dt.type(1.0)
        factor = float(one / (one + dt.type(n) * dt.type(lr_decay)))
        clr = lr * factor
    elif lr_dt and lr_decay != 0:  # lr / (1 + lr_decay * n), every operation rounded to the lr's dtype
        clr = _round(lr / _round(1.0 + _round(_round(lr_decay, lr_dt) * float(n), lr_dt), lr_dt), lr_dt)
    else:
        clr = lr / (1.0 + n * lr_decay)

    touched = None
    grad_err: Any = 0.0
    squares = None
    if isinstance(g, SparseGrad):
        if wd != 0:
            raise NotReplayable("a sparse gradient with weight_decay != 0 raises (R10): no trajectory")
        dense = densify(g)
        touched = np.zeros(dense.shape, dtype=bool)
        touched[tuple(np.asarray(g.indices))] = True
        grad_err = _coalesce_error(g, real)
        if sem.sparse_square_first:
            squares = np.zeros(dense.shape)
            vals = np.asarray(g.values, dtype=np.float64)
            np.add.at(squares, tuple(np.asarray(g.indices)), vals * vals)
        gp = inputs(_pairs(dense))
    else:
        gp = inputs(_pairs(np.asarray(g)))
    if sem.nonfinite_clamp is not None:
        c = float(sem.nonfinite_clamp)
        gp = np.where(np.isnan(gp), 0.0, np.where(np.isposinf(gp), c, np.where(np.isneginf(gp), -c, gp)))

    p, s = st.p, st.s
    if sem.flush_subnormals:
        p, s, gp = _flush(p, real), _flush(s, real), _flush(gp, real)
        clr, eps, wd = (float(_flush(np.float64(x), real)) for x in (clr, eps, wd))
    with np.errstate(all="ignore"):
        grad = -gp if (maximize and not sem.maximize_after_wd) else gp
        acc_grad = grad
        if (wd != 0 or (sem.wd_always and touched is None)) and not sem.decoupled_wd:
            grad = grad + wd * p
            if not sem.wd_not_accumulated:
                acc_grad = grad
        if sem.maximize_after_wd and maximize:
            grad = -grad
            acc_grad = -acc_grad
        if squares is not None:
            add = squares
        elif sem.complex_shared and st.is_complex:
            mag = (acc_grad * acc_grad).sum(axis=-1, keepdims=True)
            add = np.broadcast_to(mag, acc_grad.shape)
        else:
            add = acc_grad * acc_grad
        s_new = s + add
        if sem.accumulator_dtype and _narrower(sem.accumulator_dtype, real):
            s_new = _round(s_new, sem.accumulator_dtype)
        sd = s if sem.old_accumulator else s_new
        if sem.complex_shared and st.is_complex:
            sd = np.broadcast_to(sd[..., :1], sd.shape)
        if sem.no_sqrt:
            d = sd + eps
        elif sem.eps_inside:
            d = np.sqrt(sd + eps)
        else:
            d = np.sqrt(sd) + eps
        if sem.momentum is not None:
            q = grad / d
            if sem.guard_zero or sem.guard_update:
                q = np.where(sd > 0, q, 0.0 if sem.guard_update else grad * 0.0)
            m = (1.0 - sem.momentum) * q + sem.momentum * st.m
            upd = clr * m
        else:
            m = st.m
            upd = clr * grad / d  # the oracle's order of operations: R1 replays bit for bit
            if sem.guard_zero or sem.guard_update:
                upd = np.where(sd > 0, upd, 0.0 if sem.guard_update else grad * 0.0)
        if sem.flush_subnormals:
            upd = _flush(upd, real)
        if sem.decoupled_wd and wd != 0:
            # p (1 - clr wd), stored in the parameter's dtype, then the update (Keras' order); the
            # factor in the dtype the lr is held in
            factor = 1.0 - clr * wd if factor_dt is None else _round(1.0 - _round(clr * wd, factor_dt), factor_dt)
            decayed = p * factor
            p_new = (decayed if real == "float64" else _round(decayed, real)) - upd
            # the error model bounds the spec's coupled step; the decayed parameter is one more
            # rounding, carried with a factor 1 - clr wd <= 1 (the update does not read p)
            fmt = FORMATS[real]
            st.extra = st.extra + fmt.u * np.abs(decayed) + fmt.underflow
        else:
            p_new = p - upd
        if sem.compute_dtype and _narrower(sem.compute_dtype, real):  # results held in the compute dtype too
            p_new, s_new = inputs(p_new), inputs(s_new)
        if sem.flush_subnormals:
            p_new, s_new = _flush(p_new, real), _flush(s_new, real)

    if bounds:
        bounded = touched
        if sem.guard_zero or sem.guard_update:  # a guarded element is left exactly as it was: no new error
            live = sd > 0
            if touched is not None:
                live = live & touched.reshape(touched.shape + (1,) * (p.ndim - touched.ndim))
            bounded = np.broadcast_to(live, np.shape(p))
        b = st.tracker.step(
            p,
            gp,
            s,
            n,
            touched=bounded,
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=wd,
            eps=eps,
            maximize=maximize,
            lr_dtype=("float32" if sem.decay_dtype and _narrower(sem.decay_dtype, real) else case.lr_tensor_dtype),
            grad_err=grad_err,
        )
        st.pb, st.sb = b.param + st.extra, b.sum
    if touched is not None:
        mask = touched.reshape(touched.shape + (1,) * (p.ndim - touched.ndim))
        p_new = np.where(mask, p_new, p)
        s_new = np.where(mask, s_new, s)
        m = np.where(mask, m, st.m)
    st.p, st.s, st.m = p_new, s_new, m


def _flush(x: Any, real: str) -> Any:
    """Subnormals to zero of the same sign: float64's for float64, float32's for the narrower dtypes
    (computed in float32, as CPUs and XLA compute float16 and bfloat16)."""
    tiny = np.finfo(np.float64 if real == "float64" else np.float32).tiny
    return np.where(np.abs(x) < tiny, np.copysign(0.0, x), x)


def _lr0(case: Case, group: dict[str, Any], hyper_of) -> float:
    return hyper_of({**group, "lr": group["_lr0"]}, "lr")


def _coalesce_error(g: SparseGrad, dtype: str) -> np.ndarray:
    """The error model's bound on summing duplicate sparse entries in ``dtype`` (docs/error-model.md,
    "sparse duplicates": (k - 1) u sum|v| per element with k entries)."""
    fmt = FORMATS[dtype]
    idx = tuple(np.asarray(g.indices))
    vals = np.abs(np.asarray(g.values, dtype=np.float64))
    count = np.zeros(g.shape)
    np.add.at(count, idx, np.ones_like(vals))
    magnitude = np.zeros(g.shape)
    np.add.at(magnitude, idx, vals)
    return np.maximum(count - 1, 0) * (fmt.u * magnitude + fmt.underflow)


def trajectory(case: Case, sem: Semantics) -> list[tuple[list[np.ndarray], list[np.ndarray | None], list[int]]]:
    """The trajectory of ``case`` under ``sem`` in the form :func:`~adagrad.conformance.engine.harness.run_target` yields.

    Lets a variant play the target (the diagnosis tests do): float64/complex128 values.
    """
    return [(v.params, v.sums, v.steps) for v in replay(case, sem, bounds=False)]
