"""One parameter's Adagrad step under some semantics, in real pairs, with its tolerance.

The update rule of ``reference/`` written again with the switches of
:class:`~.semantics.Semantics` (see docs/architecture.md: an independent reading of the spec,
used only to explain failures). :func:`_step` is called by :func:`~.replay.replay` for each
parameter with a gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adagrad.conformance.diagnosis.semantics import NotReplayable, Semantics
from adagrad.conformance.diagnosis.values import _narrower, _pairs, _round
from adagrad.conformance.engine.case import Case
from adagrad.conformance.engine.comparison import HYPER_DEFAULTS
from adagrad.conformance.engine.dtypes import FORMATS
from adagrad.reference import SparseGrad, densify


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
        bool(group.get("maximize", case.options.get("maximize", HYPER_DEFAULTS["maximize"])))
        and not sem.maximize_ignored
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
