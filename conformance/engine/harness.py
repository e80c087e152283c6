"""Run one case on a target and have it judged by the oracle's process.

A :class:`~.case.Case` is plain data: dtype, param groups with their hyperparameters, initial
values, a gradient (dense, sparse or None) per parameter per step, optional edits of
hyperparameters between steps, and optionally a starting state (teacher forcing).
:func:`check_case` runs it on the target (through torch's Optimizer API only), reads what the
target holds after each step bit-exactly (:mod:`.tensor_bits`), and sends case and trajectory to
the oracle's process (:mod:`.oracle_service`), which runs :class:`adagrad.reference.ReferenceAdagrad`
and compares under the error model (:mod:`.comparison`). No oracle arithmetic and no comparison
runs in the process that runs the target. A deviation raises :class:`ConformanceFailure` with the
first failing step and a reproducing snippet.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from hypothesis import reject
from hypothesis.control import currently_in_test_context

from adagrad.conformance.engine.case import Case, TargetStep, Trajectory, clone_case
from adagrad.conformance.engine.codec import encode_case, encode_trajectory
from adagrad.conformance.engine.comparison import HYPER_DEFAULTS, OutsideErrorModel, compare_arrays, run_oracle
from adagrad.conformance.engine.target import Target
from adagrad.conformance.engine.tensor_bits import decode_bits, tensor_bits, tensor_from_values
from adagrad.conformance.pytest_plugin.run_state import first_failure, test_id
from adagrad.reference import SparseGrad

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
    "snippet",
    "target_state",
    "to_numpy",
    "to_torch",
]

Grad = Any
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


# -- torch side ---------------------------------------------------------------------------------
def to_torch(x: np.ndarray, dtype: str, device: str = "cpu"):
    """A torch tensor of ``dtype`` holding ``x`` (float64/complex128 values, exact in ``dtype``),
    built from bit patterns with no floating-point arithmetic."""
    t = tensor_from_values(np.asarray(x), dtype)
    return t if device == "cpu" else t.to(device)


def to_numpy(t) -> np.ndarray:
    """A float64 (complex128) NumPy copy of a tensor, read bit-exactly (any dtype, device, layout)."""
    dtype, bits = tensor_bits(t)
    v = decode_bits(bits, dtype)
    return v[..., 0] + 1j * v[..., 1] if t.is_complex() else v


def _torch_grad(g: Grad, case: Case):
    import torch

    if g is None:
        return None
    if isinstance(g, SparseGrad):
        return torch.sparse_coo_tensor(
            torch.as_tensor(np.asarray(g.indices), dtype=torch.int64), to_torch(g.values, case.dtype), g.shape
        ).to(case.device)
    return to_torch(g, case.dtype, case.device)


def _lr_value(case: Case, lr: Any) -> Any:
    if case.lr_tensor_dtype is None:
        return lr
    import torch

    # rounded to the lr tensor's dtype as a user's torch.tensor(lr, dtype=...) rounds it
    return torch.tensor(float(lr), dtype=getattr(torch, case.lr_tensor_dtype), device=case.device)


def _given(case: Case, hyper: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters a user would write: those at torch's default are left out (so that a
    target without, say, ``lr_decay`` can run every case that does not need it), unless the
    constructor sets that key otherwise (then the group must say it)."""
    out = {}
    for k, v in hyper.items():
        if k in HYPER_DEFAULTS and k not in case.options and _same(v, HYPER_DEFAULTS[k]):
            continue
        out[k] = _lr_value(case, v) if k == "lr" else v
    return out


def _is_default(case: Case, key: str, value: Any) -> bool:
    """Left out of the call, as :func:`_given` leaves it out (snippets call the target the same way)."""
    return key in HYPER_DEFAULTS and key not in case.options and _same(value, HYPER_DEFAULTS[key])


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b or (isinstance(a, float) and isinstance(b, float) and a == b)


def build_target(target: Target, case: Case) -> tuple[Any, list[Any]]:
    """Construct the target's optimizer for ``case`` (and load its starting state); returns
    ``(optimizer, params)``."""
    opt, tensors = _construct(target, case)
    return _load_start(opt, case, target), tensors


def _construct(target: Target, case: Case) -> tuple[Any, list[Any]]:
    """The optimizer as a user builds it: hyperparameters at their default are left out."""
    case.device = getattr(target, "device", case.device)
    tensors = [to_torch(p, case.dtype, case.device).requires_grad_(True) for p in case.params]
    if case.options.get("differentiable"):  # differentiable steps update non-leaf params in place
        tensors = [t.clone() for t in tensors]
    if (
        len(case.groups) == 1 and "added_at" not in case.groups[0]
    ):  # the everyday form: hyperparameters as constructor keywords
        hyper = _given(case, {k: v for k, v in case.groups[0].items() if k != "params"})
        return target.make([tensors[i] for i in case.groups[0]["params"]], **hyper, **case.options), tensors
    groups = [_target_group(case, g, tensors) for g in case.groups if "added_at" not in g]
    return target.make(groups, **case.options), tensors


def _target_group(case: Case, group: dict[str, Any], tensors: list[Any]) -> dict[str, Any]:
    g = _given(case, {k: v for k, v in group.items() if k not in ("params", "added_at")})
    g["params"] = [tensors[i] for i in group["params"]]
    return g


def _unsupported(reason: str) -> None:
    from adagrad.conformance.adapters.base import signal_unsupported

    signal_unsupported(reason)


def _load_start(opt: Any, case: Case, target: Target | None = None) -> Any:
    """Teacher forcing: load the case's starting (sum, step) through the target's state mapping,
    or through load_state_dict in torch's layout. A target whose layout is not torch's and that
    declares no mapping makes the case unsupported (not checkable without a state mapping)."""
    if case.start is None:
        return opt
    import torch

    from adagrad.conformance.engine.target_spec import NO_MAPPING

    spec = getattr(target, "target_spec", None)
    if spec is not None and spec.state is not None:
        spec.state.write_all(opt, [(to_torch(s, case.dtype, case.device), int(t)) for s, t in case.start])
        return opt
    sd = opt.state_dict()
    if spec is not None:  # a suite-loaded target without a mapping: only torch's layout can be written
        entries = sd.get("state") if isinstance(sd, dict) else None
        if not isinstance(entries, dict) or not entries:
            _unsupported(f"teacher-forced start: {NO_MAPPING} (the target has no state before its first step)")
        if any(not isinstance(e, dict) or "sum" not in e or "step" not in e for e in entries.values()):
            _unsupported(f"teacher-forced start: {NO_MAPPING} (its state is not torch's sum and step)")
    for i, (s, t) in enumerate(case.start):
        sd["state"][i] = {"step": torch.tensor(float(t)), "sum": to_torch(s, case.dtype, case.device)}
    opt.load_state_dict(sd)
    return opt


def _step_value(step: Any) -> Any:
    """A step count as the target holds it: a tensor's bits (its dtype is part of the answer)."""
    import torch

    if isinstance(step, torch.Tensor):
        if step.is_floating_point():
            return tensor_bits(step)
        return int(step.item())
    return step if isinstance(step, (int, float)) else None


def _untouched(case: Case, i: int, k: int) -> bool:
    """Param ``i`` had no gradient in steps 0..k and no loaded start: its state is the initial one."""
    return case.start is None and all(case.grads[j][i] is None for j in range(min(k + 1, len(case.grads))))


def _initial_sum(case: Case, i: int) -> Any:
    """The initial accumulator of param ``i`` (its group's tau), as bits of the case's dtype."""
    group = case.groups[case.group_of(i)]
    tau = group.get(
        "initial_accumulator_value",
        case.options.get("initial_accumulator_value", HYPER_DEFAULTS["initial_accumulator_value"]),
    )
    import torch

    # rounded to the dtype as torch.full_like(param, tau) rounds it
    return tensor_bits(torch.full(np.shape(case.params[i]), float(tau), dtype=getattr(torch, case.dtype)))


def read_step(opt: Any, tensors: list[Any], case: Case, k: int, target: Target | None = None) -> TargetStep:
    """What the target holds after step ``k`` of ``case``: params, and state (through the target's
    state mapping, else state_dict in torch's layout).

    For a target the suite loaded (``target.target_spec`` set): a parameter the target keeps no
    state for yet and that has had no gradient is read as holding the initial state (lazy state
    is judged by its own rule, R14, not here); a target whose state is not torch's layout and that
    declares no mapping is judged on its parameters only (``state_unread``).
    """
    params = [tensor_bits(p) for p in tensors]
    n = len(tensors)
    # state ids number the parameters in group order
    order = [i for g in case.groups if "added_at" not in g or g["added_at"] <= k for i in g["params"]]
    sums: list[Any] = [None] * n
    steps: list[Any] = [None] * n
    if getattr(target, "target_spec", None) is None:
        try:
            state = opt.state_dict()["state"]
        except Exception as exc:  # noqa: BLE001 - a target whose state cannot be read fails here
            return TargetStep(params, [None] * n, [None] * n, f"state_dict() raised {type(exc).__name__}: {exc}")
        for sid, i in enumerate(order):
            entry = state.get(sid)
            if entry is None:
                continue
            try:
                sums[i] = tensor_bits(entry["sum"])
                steps[i] = _step_value(entry["step"])
            except (KeyError, TypeError, AttributeError) as exc:
                return TargetStep(
                    params, sums, steps, f"state of param {i} is not torch's layout ({type(exc).__name__}: {exc})"
                )
        return TargetStep(params, sums, steps)
    from adagrad.conformance.engine.target_spec import NO_MAPPING, read_state

    try:
        entries = read_state(target, opt)
    except Exception as exc:  # noqa: BLE001 - state_dict() itself raised
        return TargetStep(params, sums, steps, f"state_dict() raised {type(exc).__name__}: {exc}")
    if isinstance(entries, str):
        if entries.startswith(NO_MAPPING):
            return TargetStep(params, sums, steps, state_unread=True)
        return TargetStep(params, sums, steps, entries)
    if len(entries) != len(order):
        return TargetStep(
            params, sums, steps, f"the target holds {len(entries)} parameters in its groups, {len(order)} were given"
        )
    for entry, i in zip(entries, order):
        if entry is None:
            if _untouched(case, i, k):
                sums[i], steps[i] = _initial_sum(case, i), 0
            continue
        try:
            sums[i] = tensor_bits(entry[0])
            steps[i] = _step_value(entry[1])
        except (TypeError, AttributeError, ValueError) as exc:
            return TargetStep(params, sums, steps, f"state of param {i} cannot be read ({type(exc).__name__}: {exc})")
    return TargetStep(params, sums, steps)


def target_state(target: Target, opt: Any) -> list[tuple[Any, Any] | None]:
    """Each parameter's ``(sum tensor, step)`` (None: no state yet), in param-group order, read
    through the target's state mapping or torch's layout: for feature tests whose subject is the
    accumulator, not the state_dict's format. Without a mapping and without torch's layout the
    test is unsupported ("not checkable without a state mapping"); a mapping that fails is a
    failure."""
    from adagrad.conformance.engine.target_spec import NO_MAPPING, read_state, refuse

    entries = read_state(target, opt)
    if isinstance(entries, str):
        if entries.startswith(NO_MAPPING):
            refuse(target, entries, whole_test=True)
        raise AssertionError(entries)
    return entries


#: Exceptions with which a target may refuse what a case asks (a hyperparameter, flag, dtype).
REFUSAL_TYPES = (TypeError, ValueError, NotImplementedError, RuntimeError)


def _asked(case: Case, k: int | None) -> tuple[list[str], list[str]]:
    """What a case asks of the target up to step ``k`` (None: construction), as words a refusal
    may name: ``(drawn, fixed)``, hyperparameters given (not at their default) and edited, and
    what a test fixes for all its examples: flags set, the dtype, sparse, tensor lr, device."""
    drawn: set[str] = set()
    for g in case.groups:
        if k is None and "added_at" in g or k is not None and g.get("added_at", 0) > k:
            continue
        drawn |= {
            key for key in _given(case, {a: b for a, b in g.items() if a not in ("params", "added_at")}) if key != "lr"
        }
    for j in range(0 if k is None else k + 1):
        drawn |= {key for _, key, _v in case.edits.get(j, []) if key != "lr"}
    words = {key for key, v in case.options.items() if v not in (None, False)}
    if case.lr_tensor_dtype:
        words |= {"lr", "tensor"}
    words |= {
        case.dtype,
        {"float64": "double", "float16": "half", "complex128": "complexdouble", "complex64": "complexfloat"}.get(
            case.dtype, case.dtype
        ),
    }
    if case.dtype.startswith("complex"):
        words.add("complex")
    if any(g is not None and not isinstance(g, np.ndarray) for step in case.grads for g in step):
        words.add("sparse")
    if case.device != "cpu":
        words.add(case.device.split(":")[0])
    return sorted(drawn), sorted(words - drawn)


def _names_one_of(message: str, words: list[str]) -> bool:
    from adagrad.conformance.engine.target_spec import names_one_of

    return bool(names_one_of(message, words))


def _torch_refusal(case: Case) -> bool:
    """Whether torch itself refuses this case on its path (strategies.REFUSALS: fused with sparse
    or complex, foreach or fused with differentiable): the calling feature judges the target's
    exception against torch's (check_or_refused), so it is never made unsupported here."""
    from adagrad.conformance.engine.strategies import REFUSALS, path_name

    needs = {"complex"} if case.dtype.startswith("complex") else set()
    if case.options.get("differentiable"):
        needs.add("differentiable")
    if any(g is not None and not isinstance(g, np.ndarray) for step in case.grads for g in step):
        needs.add("sparse")
    return any((path_name(case.options), n) in REFUSALS for n in needs)


def _same_state(a: TargetStep, b: TargetStep) -> bool:
    def same(x: Any, y: Any) -> bool:
        if isinstance(x, tuple) and isinstance(y, tuple):
            return x[0] == y[0] and np.array_equal(x[1], y[1])
        return x == y

    return (
        a.error == b.error
        and all(same(x, y) for x, y in zip(a.params, b.params))
        and all(same(x, y) for x, y in zip(a.sums, b.sums))
        and all(same(x, y) for x, y in zip(a.steps, b.steps))
    )


def _refused(target: Target, case: Case, exc: Exception, k: int | None, before: TargetStep | None, after: Any) -> None:
    """Whether a target's exception is a clean refusal of what the case asks: then the case is
    unsupported (the library's message as the reason) unless ``--strict-support``; else return
    (the caller re-raises: a failure)."""
    if getattr(target, "target_spec", None) is None or not isinstance(exc, REFUSAL_TYPES):
        return
    message = " ".join(str(exc).split()) or type(exc).__name__
    drawn, fixed = _asked(case, k)
    named_drawn = _names_one_of(message, drawn)
    if not (named_drawn or _names_one_of(message, fixed)) or _torch_refusal(case):
        return
    if before is not None:
        try:
            now = after()
        except Exception:  # noqa: BLE001 - unreadable after the refusal: not clean
            return
        if not _same_state(before, now):
            raise AssertionError(
                f"the target refused ({type(exc).__name__}: {message}) after step {k + 1} had "
                "already changed its params or state: a refusal must come before any change"
            ) from exc
    from adagrad.conformance.engine.target_spec import refuse

    refuse(target, f"{type(exc).__name__}: {message[:300]}", whole_test=not named_drawn, cause=exc)


def _claims_refusal(target: Target, case: Case) -> None:
    from adagrad.conformance.engine.target_spec import check_claims

    given = [
        key
        for g in case.groups
        for key in _given(case, {a: b for a, b in g.items() if a not in ("params", "added_at")})
    ]
    given += [key for edits in case.edits.values() for _, key, _v in edits]
    check_claims(target, case.dtype, case.device, case.options, given)


def run_target_steps(
    target: Target, case: Case, opt_and_params: tuple[Any, list[Any]] | None = None
) -> Iterator[TargetStep]:
    """Yield what the target holds after each step of the case (bit patterns).

    For a target the suite loaded, a case outside its claims, or one its constructor or a step
    refuses cleanly (TypeError, ValueError, NotImplementedError or RuntimeError naming what the
    case asks, before anything changed), is unsupported with the library's message; a refusal
    after a change, or any other exception, propagates (a failure).
    """
    if opt_and_params is None:
        case.device = getattr(target, "device", case.device)
        _claims_refusal(target, case)
        try:
            opt, tensors = _construct(target, case)
        except Exception as exc:
            _refused(target, case, exc, None, None, None)
            raise
        opt = _load_start(opt, case, target)
    else:
        opt, tensors = opt_and_params
    watched = getattr(target, "target_spec", None) is not None
    before = read_step(opt, tensors, case, -1, target) if watched else None
    for k, step_grads in enumerate(case.grads):
        try:
            for group in case.groups:
                if group.get("added_at") == k:
                    opt.add_param_group(_target_group(case, group, tensors))
            for gi, key, value in case.edits.get(k, []):
                opt.param_groups[gi][key] = _lr_value(case, value) if key == "lr" else value
            for p, g in zip(tensors, step_grads):
                p.grad = _torch_grad(g, case)
            opt.step()
        except Exception as exc:
            _refused(target, case, exc, k, before, lambda k=k: read_step(opt, tensors, case, k - 1, target))
            raise
        before = read_step(opt, tensors, case, k, target)
        if watched and k == 0:
            from adagrad.conformance.engine.target_spec import supported

            supported()
        yield before


def run_target(target: Target, case: Case, opt_and_params: tuple[Any, list[Any]] | None = None):
    """Yield ``(params, sums, steps)`` after each step, as float64/complex128 NumPy arrays."""
    cplx = case.dtype.startswith("complex")

    def values(b):
        if b is None:
            return None
        v = decode_bits(b[1], b[0])
        return v[..., 0] + 1j * v[..., 1] if cplx else v

    for st in run_target_steps(target, case, opt_and_params):
        steps = [
            int(decode_bits(s[1], s[0]).ravel()[0]) if isinstance(s, tuple) else (0 if s is None else int(s))
            for s in st.steps
        ]
        yield [values(p) for p in st.params], [values(s) for s in st.sums], steps


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
    head = f"{what}: " if what else ""
    first_failure(head + message, case.size, details)
    raise ConformanceFailure(
        f"{head}{message}\n\nReproduce with:\n{snippet(target, case)}",
        {**details, "snippet": snippet(target, case)},
        case.size,
    )


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
        *(
            getattr(target, "loader", None)
            or f"from adagrad.conformance.engine.target import load_target\nTarget = load_target({target.spec!r}).factory"
        ).splitlines(),
        f"dt = torch.{case.dtype}",
        "params = [",
    ]
    for p in case.params:
        lines.append(f"    torch.tensor({_literal(p)}, dtype=torch.{cdt}).to(dt).requires_grad_(),")
    lines.append("]")
    if len(case.groups) == 1:
        g = case.groups[0]
        given = {k: v for k, v in g.items() if k != "params" and not _is_default(case, k, v)}
        hyper = ", ".join(f"{k}={_hyper_literal(case, k, v)}" for k, v in {**given, **case.options}.items())
        lines.append(f"opt = Target([{', '.join(f'params[{i}]' for i in g['params'])}], {hyper})")
    else:
        lines.append("opt = Target([")
        for g in case.groups:
            hyper = ", ".join(
                f"{k!r}: {_hyper_literal(case, k, v)}"
                for k, v in g.items()
                if k != "params" and not _is_default(case, k, v)
            )
            lines.append(f"    {{'params': [{', '.join(f'params[{i}]' for i in g['params'])}], {hyper}}},")
        lines.append(f"], **{case.options!r})")
    if case.start is not None:
        lines.append("sd = opt.state_dict()")
        for i, (s, t) in enumerate(case.start):
            lines.append(
                f"sd['state'][{i}] = {{'step': torch.tensor({float(t)!r}), 'sum': torch.tensor({_literal(s)}, dtype=torch.{cdt}).to(dt)}}"
            )
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
