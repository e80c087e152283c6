"""The oracle's side of a check: run a case on the oracle and compare a target's trajectory.

Runs only in a process that never ran target code (:mod:`.oracle_service`), so nothing a target
does to its own process (patching NumPy, setting flush-to-zero, changing the default dtype) can
reach the oracle or the comparison. Imports no torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adagrad.conformance.engine.case import Case, Trajectory
from adagrad.conformance.engine.dtypes import FORMATS, round_to, ulp
from adagrad.conformance.engine.error_model import ErrorTracker
from adagrad.conformance.engine.tensor_bits import decode_bits
from adagrad.reference import Param, ReferenceAdagrad, SparseGrad, densify

__all__ = ["HYPER_DEFAULTS", "OutsideErrorModel", "compare_arrays", "compare_trajectory", "run_oracle"]

#: torch's defaults (spec R2): a case leaves a hyperparameter out of a group to mean this value.
HYPER_DEFAULTS: dict[str, Any] = {
    "lr": 1e-2,
    "lr_decay": 0.0,
    "weight_decay": 0.0,
    "initial_accumulator_value": 0.0,
    "eps": 1e-10,
    "maximize": False,
}


class OutsideErrorModel(AssertionError):
    """The case's inputs lie where the error model gives no bound (an underflowed denominator):
    the case, not the target, is at fault. Drawn cases are rejected; fixed cases fail loudly."""


def _pairs(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return np.stack([x.real, x.imag], axis=-1) if np.iscomplexobj(x) else x


def _full(group: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """A group's hyperparameters with the ones a case leaves out filled as the target fills them."""
    defaults = {**HYPER_DEFAULTS, **{k: v for k, v in options.items() if k in HYPER_DEFAULTS}}
    return {**defaults, **group}


def run_oracle(case: Case):
    """Yield ``(params, sums, steps, param_bounds, sum_bounds)`` after each step of the case."""
    params = [Param(p) for p in case.params]

    def oracle_group(g: dict[str, Any]) -> dict[str, Any]:
        full = _full({k: v for k, v in g.items() if k not in ("params", "added_at")}, case.options)
        return {**full, "params": [params[i] for i in g["params"]]}

    opt = ReferenceAdagrad([oracle_group(g) for g in case.groups if "added_at" not in g])
    trackers = []
    for i, p in enumerate(params):
        tau = _full(case.groups[case.group_of(i)], case.options)["initial_accumulator_value"]
        trackers.append(
            ErrorTracker(
                case.real_dtype, _pairs(p.data).shape, initial_accumulator_value=tau, exact_start=case.start is not None
            )
        )  # a loaded state is exact in the dtype
    if case.start is not None:
        for p, (s, t) in zip(params, case.start):
            opt.state[p] = {"step": int(t), "sum": np.array(s, dtype=p.data.dtype)}
    bounds = [(tr.current().param, tr.current().sum) for tr in trackers]
    for k, step_grads in enumerate(case.grads):
        for g in case.groups:
            if g.get("added_at") == k:
                opt.add_param_group(oracle_group(g))
        for gi, key, value in case.edits.get(k, []):
            opt.param_groups[gi][key] = value
        for i, (p, g) in enumerate(zip(params, step_grads)):
            p.grad = g
            if g is None or p not in opt.state:  # no gradient, or not handed to the optimizer yet
                continue
            group = next(gr for gr in opt.param_groups if any(q is p for q in gr["params"]))
            hyper = {k2: group[k2] for k2 in ("lr_decay", "weight_decay", "eps", "maximize")}
            hyper["lr"] = _oracle_lr(case, group["lr"])
            hyper["lr_dtype"] = case.lr_tensor_dtype
            touched = None
            if isinstance(g, SparseGrad):
                dense = densify(g)
                touched = np.zeros(p.data.shape, dtype=bool)
                touched[tuple(np.asarray(g.indices))] = True
                hyper["grad_err"] = _coalesce_error(g, case.real_dtype)
            else:
                dense = np.asarray(g)
            state = opt.state[p]
            b = trackers[i].step(
                _pairs(p.data), _pairs(dense), _pairs(state["sum"]), state["step"], touched=touched, **hyper
            )
            bounds[i] = (b.param, b.sum)
        for group in opt.param_groups:  # the oracle receives the lr as the target's tensor holds it
            group["lr"] = _oracle_lr(case, group["lr"])
        opt.step()
        yield (
            [p.data.copy() for p in params],
            [opt.state[p]["sum"].copy() if p in opt.state else None for p in params],
            [opt.state[p]["step"] if p in opt.state else 0 for p in params],
            [b[0] for b in bounds],
            [b[1] for b in bounds],
        )


def _coalesce_error(g: SparseGrad, dtype: str) -> np.ndarray:
    """Bound on the rounding of summing duplicate entries in ``dtype``: (k - 1) u sum|v| per element."""
    fmt = FORMATS[dtype]
    idx = tuple(np.asarray(g.indices))
    count = np.zeros(g.shape, dtype=np.float64)
    np.add.at(count, idx, np.ones_like(np.asarray(g.values, dtype=np.float64)))
    magnitude = np.zeros(g.shape, dtype=np.float64)
    np.add.at(magnitude, idx, np.abs(np.asarray(g.values, dtype=np.float64)))
    return np.maximum(count - 1, 0) * (fmt.u * magnitude + fmt.underflow)


def _oracle_lr(case: Case, lr: Any) -> float:
    if case.lr_tensor_dtype is None:
        return float(lr)
    return float(round_to(np.array(float(lr)), case.lr_tensor_dtype))  # as torch.tensor(lr, dtype=...) rounds


def compare_arrays(
    actual: np.ndarray, expected: np.ndarray, bound: np.ndarray, dtype: str, previous: np.ndarray | None = None
) -> tuple[float, dict[str, Any] | None]:
    """Worst error in ulps of ``dtype`` and the worst violation (None if none).

    Ulps are counted at the magnitude of the step, ``max(|expected|, |previous|)`` (the value
    before the step), so that a result that cancels to near zero is not reported as millions of
    ulps. Non-finite expected values must be matched exactly (NaN by NaN, inf by the same inf);
    a finite target value where the oracle has NaN or inf is a failure.

    Raises:
        OutsideErrorModel: a finite expected value has no bound (the case is invalid).
    """
    fmt = FORMATS[dtype]
    a, e = _pairs(actual).astype(np.float64), _pairs(expected).astype(np.float64)
    if a.shape != e.shape:
        return np.inf, {
            "statement": f"shape {a.shape} where {e.shape} was expected",
            "index": None,
            "target": None,
            "oracle": None,
            "ulps": None,
            "tolerance_ulps": None,
        }
    scale = np.abs(e) if previous is None else np.maximum(np.abs(e), np.abs(_pairs(previous)))
    b = np.broadcast_to(bound, e.shape)
    with np.errstate(all="ignore"):
        finite = np.isfinite(e)
        same_special = (np.isnan(e) & np.isnan(a)) | (~finite & ~np.isnan(e) & (a == e))
        err = np.where(finite, np.abs(a - e), np.where(same_special, 0.0, np.inf))
        err = np.where(np.isnan(err), np.inf, err)
        units = ulp(np.where(np.isfinite(scale), scale, 0.0), fmt)
        err_ulps = np.where(finite, err / units, np.where(same_special, 0.0, np.inf))
        if np.isinf(b[finite]).any():
            n = int(np.isinf(b[finite]).sum())
            raise OutsideErrorModel(
                f"{n} element(s) lie outside the error model (a denominator below the dtype's "
                "resolution): the case itself is invalid"
            )
        # non-finite expected values: exact match; finite ones: within the bound (a NaN bound fails)
        bad = np.where(finite, ~(err <= b), ~same_special)
    worst = float(err_ulps.max()) if err_ulps.size else 0.0
    if not bad.any():
        return worst, None
    idx = np.unravel_index(int(np.argmax(np.where(bad, err_ulps, -1))), e.shape)
    with np.errstate(over="ignore"):  # a bound beyond the dtype's range is an infinite tolerance
        tol = float(b[idx] / units[idx])
    return worst, {
        "statement": f"{int(bad.sum())} of {bad.size} element(s) outside the error model; worst at "
        f"{tuple(int(i) for i in idx)}: target {float(a[idx])!r}, oracle {float(e[idx])!r}, |diff| {err[idx]:.3g} = "
        f"{err_ulps[idx]:.3g} ulps, tolerance {tol:.3g} ulps",
        "index": [int(i) for i in idx],
        "target": _num(a[idx]),
        "oracle": _num(e[idx]),
        "ulps": _num(err_ulps[idx]),
        "tolerance_ulps": _num(tol),
    }


def _num(x: Any) -> float | None:
    """A JSON-safe float (None for NaN and infinities)."""
    v = float(x)
    return v if np.isfinite(v) else None


def _values(bits: tuple[str, np.ndarray], complex_case: bool) -> np.ndarray:
    dtype, raw = bits
    v = decode_bits(raw, dtype)
    if complex_case:
        return v[..., 0] + 1j * v[..., 1]
    return v


def _step_count(value: Any) -> tuple[float | None, str | None]:
    if value is None:
        return None, None
    if isinstance(value, tuple):
        dtype, raw = value
        arr = decode_bits(raw, dtype).ravel()
        if arr.size != 1:
            return None, f"a step tensor with {arr.size} elements"
        return float(arr[0]), dtype
    return float(value), None


def compare_trajectory(case: Case, trajectory: Trajectory) -> dict[str, Any]:
    """Compare a target's trajectory with the oracle's, step by step, under the error model.

    Returns ``{"worst_ulps", "per_step", "failure", "outside", "size"}``: ``failure`` describes the
    first deviation (``statement``, ``step``, ``tensor``, ``tensor_index``, ``index``, ``target``,
    ``oracle``, ``ulps``, ``tolerance_ulps``) or is None; ``outside`` is the text of an
    :class:`OutsideErrorModel` when the case lies outside the model (then nothing is judged).
    """
    worst, per_step = 0.0, []
    complex_case = case.dtype.startswith("complex")
    dtype = case.real_dtype
    before = [list(case.params), [s for s, _ in case.start] if case.start else [None] * len(case.params)]
    result: dict[str, Any] = {
        "worst_ulps": 0.0,
        "tolerance_ulps": None,
        "per_step": per_step,
        "failure": None,
        "outside": None,
        "size": case.size,
    }

    def fail(
        k: int, statement: str, tensor: str | None = None, which: int | None = None, **detail: Any
    ) -> dict[str, Any]:
        where = " ".join(x for x in (tensor, None if which is None else str(which)) if x)
        result["failure"] = {
            "statement": f"{where + ' ' if where else ''}after step {k + 1}: {statement}",
            "step": k + 1,
            "tensor": tensor,
            "tensor_index": which,
            "index": None,
            "target": None,
            "oracle": None,
            "ulps": None,
            "tolerance_ulps": None,
            **detail,
        }
        result["worst_ulps"], result["tolerance_ulps"] = worst, detail.get("tolerance_ulps")
        return result

    for k, (got, want) in enumerate(zip(trajectory, run_oracle(case))):
        w_params, w_sums, w_steps, b_params, b_sums = want
        per_step.append(0.0)
        if got.error:
            return fail(k, got.error, "state")
        if len(got.params) != len(case.params):
            return fail(k, f"{len(got.params)} parameters read where {len(case.params)} were expected")
        for i in range(len(case.params)):
            count, step_dtype = _step_count(got.steps[i])
            expected_count = w_steps[i] if w_sums[i] is not None and not got.state_unread else None
            if expected_count is not None and count != expected_count:
                shown = (
                    "no state" if count is None else f"{count:g}" + (f" (held in {step_dtype})" if step_dtype else "")
                )
                return fail(k, f"step count {shown}, expected {expected_count}", "step", i)
            for name, a_bits, e, b, prev in (
                ("param", got.params[i], w_params[i], b_params[i], before[0][i]),
                ("sum", got.sums[i], w_sums[i], b_sums[i], before[1][i]),
            ):
                if e is None or (name == "sum" and got.state_unread):  # not handed over yet; no state mapping
                    continue
                if a_bits is None:
                    return fail(k, "no state", name, i)
                a = _values(a_bits, complex_case)
                try:
                    ulps, problem = compare_arrays(a, e, b, dtype, prev)
                except OutsideErrorModel as exc:
                    result["outside"] = f"{name} {i} after step {k + 1}: {exc}"
                    return result
                per_step[-1] = max(per_step[-1], ulps)  # inf where a NaN or inf was wrong
                if np.isfinite(ulps) and ulps >= worst:
                    worst = ulps
                if problem:
                    statement = problem.pop("statement")
                    return fail(k, statement, name, i, **problem)
        before = [w_params, w_sums]
    if len(trajectory) != len(case.grads):
        return fail(len(trajectory), f"the target ran {len(trajectory)} of {len(case.grads)} steps")
    result["worst_ulps"] = worst
    return result
