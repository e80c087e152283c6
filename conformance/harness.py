"""Run one case on a target and on the oracle, and compare them under the error model.

A :class:`Case` is plain data: dtype, param groups with their hyperparameters, initial values,
a gradient (dense, sparse or None) per parameter per step, optional edits of hyperparameters
between steps, and optionally a starting state (teacher forcing). :func:`check_case` runs it on
the target (through torch's Optimizer API only) and on :class:`adagrad.reference.ReferenceAdagrad`,
following every element's tolerance with :class:`~.error_model.ErrorTracker`, and raises
:class:`ConformanceFailure` with a reproducing snippet on the first step that is off.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import reject
from hypothesis.control import currently_in_test_context

from adagrad.reference import Param, ReferenceAdagrad, SparseGrad, densify

from .dtypes import FORMATS, torch_dtype, ulp
from .error_model import ErrorTracker
from .target import Target

__all__ = ["Case", "ConformanceFailure", "OutsideErrorModel", "build_target", "check_case", "clone_case", "run_oracle", "run_target", "snippet", "to_numpy", "to_torch"]

HYPER_KEYS = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize")
Grad = np.ndarray | SparseGrad | None
Recorder = Callable[[float], None]


class ConformanceFailure(AssertionError):
    """A target's result is outside the error model (or structurally wrong)."""


class OutsideErrorModel(ConformanceFailure):
    """The case's inputs lie where the error model gives no bound (an underflowed denominator):
    the case, not the target, is at fault. Drawn cases are rejected; fixed cases fail loudly."""


@dataclass
class Case:
    """One trajectory. Values are float64 (complex128) arrays already representable in ``dtype``.

    Attributes:
        dtype: parameter dtype name (float64, float32, float16, bfloat16, complex64, complex128).
        params: initial parameter values.
        grads: ``grads[step][param]``; None means the parameter has no gradient that step.
        groups: param groups: hyperparameter dicts with ``"params"`` as indices into ``params``;
            a group with ``"added_at": k`` is added by ``add_param_group`` before step k.
        options: extra constructor keywords (``foreach``, ``fused``, ...).
        edits: ``{step: [(group, key, value)]}`` applied to ``param_groups`` before that step.
        start: teacher forcing: ``(sum, step)`` per parameter loaded before the first step.
        lr_tensor_dtype: pass each group's lr as a 1-element tensor of this dtype.
    """

    dtype: str
    params: list[np.ndarray]
    grads: list[list[Grad]]
    groups: list[dict[str, Any]]
    options: dict[str, Any] = field(default_factory=dict)
    edits: dict[int, list[tuple[int, str, Any]]] = field(default_factory=dict)
    start: list[tuple[np.ndarray, int]] | None = None
    lr_tensor_dtype: str | None = None

    @property
    def real_dtype(self) -> str:
        return {"complex64": "float32", "complex128": "float64"}.get(self.dtype, self.dtype)

    def group_of(self, index: int) -> int:
        return next(g for g, group in enumerate(self.groups) if index in group["params"])


# -- torch side ---------------------------------------------------------------------------------
def to_torch(x: np.ndarray, dtype: str):
    """A torch tensor of ``dtype`` holding ``x`` (float64/complex128 values, exact in ``dtype``)."""
    import torch

    return torch.as_tensor(np.array(x)).to(torch_dtype(dtype))


def to_numpy(t) -> np.ndarray:
    """A float64 (complex128) NumPy copy of a tensor, whatever its dtype, device or layout."""
    import torch

    t = t.detach().to("cpu")
    if t.is_sparse:
        t = t.to_dense()
    wide = torch.complex128 if t.is_complex() else torch.float64
    return t.to(wide).numpy().copy()


def _torch_grad(g: Grad, dtype: str):
    import torch

    if g is None:
        return None
    if isinstance(g, SparseGrad):
        return torch.sparse_coo_tensor(
            torch.as_tensor(np.asarray(g.indices), dtype=torch.int64), to_torch(g.values, dtype), g.shape
        )
    return to_torch(g, dtype)


def _lr_value(case: Case, lr: Any) -> Any:
    if case.lr_tensor_dtype is None:
        return lr
    return to_torch(np.array(lr), case.lr_tensor_dtype)


def build_target(target: Target, case: Case) -> tuple[Any, list[Any]]:
    """Construct the target's optimizer for ``case``; returns ``(optimizer, params)``."""
    tensors = [to_torch(p, case.dtype).requires_grad_(True) for p in case.params]
    if case.options.get("differentiable"):  # differentiable steps update non-leaf params in place
        tensors = [t.clone() for t in tensors]
    if len(case.groups) == 1 and "added_at" not in case.groups[0]:  # the everyday form: hyperparameters as constructor keywords
        hyper = {k: v for k, v in case.groups[0].items() if k != "params"}
        if "lr" in hyper:
            hyper["lr"] = _lr_value(case, hyper["lr"])
        opt = target.make([tensors[i] for i in case.groups[0]["params"]], **hyper, **case.options)
        return _load_start(opt, case), tensors
    groups = [_target_group(case, g, tensors) for g in case.groups if "added_at" not in g]
    return _load_start(target.make(groups, **case.options), case), tensors


def _target_group(case: Case, group: dict[str, Any], tensors: list[Any]) -> dict[str, Any]:
    g = {k: v for k, v in group.items() if k not in ("params", "added_at")}
    if "lr" in g:
        g["lr"] = _lr_value(case, g["lr"])
    g["params"] = [tensors[i] for i in group["params"]]
    return g


def _load_start(opt: Any, case: Case) -> Any:
    """Teacher forcing: load the case's starting (sum, step) through load_state_dict."""
    if case.start is not None:
        import torch

        sd = opt.state_dict()
        for i, (s, t) in enumerate(case.start):
            sd["state"][i] = {"step": torch.tensor(float(t)), "sum": to_torch(s, case.dtype)}
        opt.load_state_dict(sd)
    return opt


def run_target(target: Target, case: Case, opt_and_params: tuple[Any, list[Any]] | None = None):
    """Yield ``(params, sums, steps)`` after each step of the case on the target (NumPy copies)."""
    opt, tensors = opt_and_params or build_target(target, case)
    for k, step_grads in enumerate(case.grads):
        for group in case.groups:
            if group.get("added_at") == k:
                opt.add_param_group(_target_group(case, group, tensors))
        for gi, key, value in case.edits.get(k, []):
            opt.param_groups[gi][key] = _lr_value(case, value) if key == "lr" else value
        for p, g in zip(tensors, step_grads):
            p.grad = _torch_grad(g, case.dtype)
        opt.step()
        state = opt.state_dict()["state"]
        sums = [to_numpy(state[i]["sum"]) if i in state else None for i in range(len(tensors))]
        # state_dict ids number the parameters in group order
        order = [i for g in case.groups if g.get("added_at", 0) <= k for i in g["params"]]
        sums: list[np.ndarray | None] = [None] * len(tensors)
        steps = [0] * len(tensors)
        for sid, i in enumerate(order):
            if sid in state:
                sums[i] = to_numpy(state[sid]["sum"])
                steps[i] = int(float(state[sid]["step"]))
        yield [to_numpy(p) for p in tensors], sums, steps


# -- oracle side --------------------------------------------------------------------------------
def _pairs(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return np.stack([x.real, x.imag], axis=-1) if np.iscomplexobj(x) else x


def run_oracle(case: Case):
    """Yield ``(params, sums, steps, param_bounds, sum_bounds)`` after each step of the case."""
    params = [Param(p) for p in case.params]

    def oracle_group(g: dict[str, Any]) -> dict[str, Any]:
        return {**{k: v for k, v in g.items() if k not in ("params", "added_at")}, "params": [params[i] for i in g["params"]]}

    opt = ReferenceAdagrad([oracle_group(g) for g in case.groups if "added_at" not in g])
    trackers = []
    for i, p in enumerate(params):
        tau = case.groups[case.group_of(i)].get("initial_accumulator_value", 0.0)
        trackers.append(ErrorTracker(case.real_dtype, _pairs(p.data).shape, initial_accumulator_value=tau,
                                     exact_start=case.start is not None))  # a loaded state is exact in the dtype
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
            b = trackers[i].step(_pairs(p.data), _pairs(dense), _pairs(state["sum"]), state["step"], touched=touched, **hyper)
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
    from .dtypes import round_to

    return float(round_to(np.array(float(lr)), case.lr_tensor_dtype))


# -- comparison ---------------------------------------------------------------------------------
def compare_arrays(
    actual: np.ndarray, expected: np.ndarray, bound: np.ndarray, dtype: str, previous: np.ndarray | None = None
) -> tuple[float, str | None]:
    """Worst error in ulps of ``dtype`` and a description of the worst violation (None if none).

    Ulps are counted at the magnitude of the step, ``max(|expected|, |previous|)`` (the value
    before the step), so that a result that cancels to near zero is not reported as millions of
    ulps. Non-finite expected values must be matched exactly (NaN by NaN, inf by the same inf).

    Raises:
        OutsideErrorModel: a finite expected value has no bound (the case is invalid).
    """
    fmt = FORMATS[dtype]
    a, e = _pairs(actual).astype(np.float64), _pairs(expected).astype(np.float64)
    scale = np.abs(e) if previous is None else np.maximum(np.abs(e), np.abs(_pairs(previous)))
    b = np.broadcast_to(bound, e.shape)
    if a.shape != e.shape:
        return np.inf, f"shape {a.shape[: a.ndim]} where {e.shape} was expected"
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
    return worst, (
        f"{int(bad.sum())} of {bad.size} element(s) outside the error model; worst at {tuple(int(i) for i in idx)}: "
        f"target {a[idx]!r}, oracle {e[idx]!r}, |diff| {err[idx]:.3g} = {err_ulps[idx]:.3g} ulps, "
        f"tolerance {b[idx] / units[idx]:.3g} ulps"
    )


def check_case(target: Target, case: Case, record: Recorder | None = None, *, what: str = "") -> float:
    """Run ``case`` on target and oracle; raise :class:`ConformanceFailure` at the first deviation.

    Returns the worst error seen, in ulps of the dtype; ``record`` receives it too. A recorder
    with a ``record_steps(dtype, errors)`` method (the plugin's) also receives the worst error of
    each step, the failing step included, for plots of error against step.
    """
    worst = 0.0
    per_step: list[float] = []
    dtype = case.real_dtype
    before = [list(case.params), [s for s, _ in case.start] if case.start else [None] * len(case.params)]
    try:
        for k, (got, want) in enumerate(zip(run_target(target, case), run_oracle(case))):
            params, sums, steps = got
            w_params, w_sums, w_steps, b_params, b_sums = want
            per_step.append(0.0)
            for i in range(len(case.params)):
                if steps[i] != w_steps[i]:
                    _fail(target, case, f"param {i} after step {k + 1}: step count {steps[i]}, expected {w_steps[i]}", what)
                for name, a, e, b, prev in (
                    ("param", params[i], w_params[i], b_params[i], before[0][i]),
                    ("sum", sums[i], w_sums[i], b_sums[i], before[1][i]),
                ):
                    if e is None:  # not handed to the optimizer yet (a group added later)
                        continue
                    if a is None:
                        _fail(target, case, f"param {i} after step {k + 1}: no state", what)
                    try:
                        ulps, problem = compare_arrays(a, e, b, dtype, prev)
                    except OutsideErrorModel as exc:
                        if currently_in_test_context():
                            reject()  # a drawn case outside the model's domain: draw another
                        _fail(target, case, f"{name} {i} after step {k + 1}: {exc}", what)
                    per_step[-1] = max(per_step[-1], ulps)  # inf where a NaN or inf was wrong
                    worst = max(worst, ulps if np.isfinite(ulps) else worst)
                    if problem:
                        _fail(target, case, f"{name} {i} after step {k + 1}: {problem}", what)
            before = [w_params, w_sums]
    finally:
        record_steps = getattr(record, "record_steps", None)
        if record_steps is not None and per_step:
            record_steps(dtype, per_step)
    if record is not None:
        record(worst)
    return worst


def _fail(target: Target, case: Case, message: str, what: str) -> None:
    head = f"{what}: " if what else ""
    raise ConformanceFailure(f"{head}{message}\n\nReproduce with:\n{snippet(target, case)}")


# -- reproduction -------------------------------------------------------------------------------
def _literal(x: np.ndarray) -> str:
    return repr(np.asarray(x).tolist())


def _hyper_literal(case: Case, key: str, value: Any) -> str:
    if key == "lr" and case.lr_tensor_dtype:
        return f"torch.tensor({value!r}, dtype=torch.{case.lr_tensor_dtype})"
    return repr(value)


def snippet(target: Target, case: Case, max_elements: int = 400) -> str:
    """Python code that replays ``case`` on ``target`` and prints the results."""
    size = sum(np.size(p) for p in case.params) * (len(case.grads) + 1)
    if size > max_elements:
        return f"    (case too large to print: {size} values; shrink it or rerun with the seed above)"
    cdt = "complex128" if case.dtype.startswith("complex") else "float64"
    lines = [
        "import torch",
        *(getattr(target, "loader", None) or f"from adagrad.conformance.target import load_target\nTarget = load_target({target.spec!r}).factory").splitlines(),
        f"dt = torch.{case.dtype}",
        "params = [",
    ]
    for p in case.params:
        lines.append(f"    torch.tensor({_literal(p)}, dtype=torch.{cdt}).to(dt).requires_grad_(),")
    lines.append("]")
    if len(case.groups) == 1:
        g = case.groups[0]
        hyper = ", ".join(f"{k}={_hyper_literal(case, k, v)}" for k, v in {**g, **case.options}.items() if k != "params")
        lines.append(f"opt = Target([{', '.join(f'params[{i}]' for i in g['params'])}], {hyper})")
    else:
        lines.append("opt = Target([")
        for g in case.groups:
            hyper = ", ".join(f"{k!r}: {_hyper_literal(case, k, v)}" for k, v in g.items() if k != "params")
            lines.append(f"    {{'params': [{', '.join(f'params[{i}]' for i in g['params'])}], {hyper}}},")
        lines.append(f"], **{case.options!r})")
    if case.start is not None:
        lines.append("sd = opt.state_dict()")
        for i, (s, t) in enumerate(case.start):
            lines.append(f"sd['state'][{i}] = {{'step': torch.tensor({float(t)!r}), 'sum': torch.tensor({_literal(s)}, dtype=torch.{cdt}).to(dt)}}")
        lines.append("opt.load_state_dict(sd)")
    for k, step_grads in enumerate(case.grads):
        for gi, key, value in case.edits.get(k, []):
            lines.append(f"opt.param_groups[{gi}][{key!r}] = {_hyper_literal(case, key, value)}")
        for i, g in enumerate(step_grads):
            if g is None:
                lines.append(f"params[{i}].grad = None")
            elif isinstance(g, SparseGrad):
                lines.append(
                    f"params[{i}].grad = torch.sparse_coo_tensor(torch.tensor({_literal(g.indices)}), "
                    f"torch.tensor({_literal(g.values)}, dtype=torch.{cdt}).to(dt), {tuple(g.shape)!r})"
                )
            else:
                lines.append(f"params[{i}].grad = torch.tensor({_literal(g)}, dtype=torch.{cdt}).to(dt)")
        lines.append("opt.step()")
    lines.append("print([p.detach() for p in params], opt.state_dict()['state'])")
    return "\n".join("    " + line for line in lines)


def clone_case(case: Case, **changes: Any) -> Case:
    """A deep copy of ``case`` with some fields replaced."""
    new = copy.deepcopy(case)
    for k, v in changes.items():
        setattr(new, k, v)
    return new
