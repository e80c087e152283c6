"""Running a case on a target: build the optimizer as a user would, load a start state, step, and read back what it holds after each step, bit-exactly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from adagrad.conformance.engine.case import Case, TargetStep
from adagrad.conformance.engine.case_refusals import (
    claims_refusal,
    judge_refusal,
)
from adagrad.conformance.engine.comparison import HYPER_DEFAULTS
from adagrad.conformance.engine.target import Target
from adagrad.conformance.engine.tensor_bits import decode_bits, tensor_bits
from adagrad.conformance.engine.torch_io import (
    given_hyper,
    lr_value,
    step_value,
    to_torch,
    torch_grad,
)


def build_target(target: Target, case: Case) -> tuple[Any, list[Any]]:
    """Construct the target's optimizer for ``case`` (and load its starting state); returns
    ``(optimizer, params)``."""
    opt, tensors = _construct(target, case)
    return _load_start(opt, case, target), tensors


def _construct(
    target: Target, case: Case, *, make: Any = None, options: dict[str, Any] | None = None
) -> tuple[Any, list[Any]]:
    """The optimizer as a user builds it: hyperparameters at their default are left out.
    ``make`` (default ``target.make``) and ``options`` (default the case's) build it otherwise."""
    case.device = getattr(target, "device", case.device)
    make = target.make if make is None else make
    options = case.options if options is None else options
    tensors = [to_torch(p, case.dtype, case.device).requires_grad_(True) for p in case.params]
    if case.options.get("differentiable"):  # differentiable steps update non-leaf params in place
        tensors = [t.clone() for t in tensors]
    if (
        len(case.groups) == 1 and "added_at" not in case.groups[0]
    ):  # the everyday form: hyperparameters as constructor keywords
        hyper = given_hyper(case, {k: v for k, v in case.groups[0].items() if k != "params"})
        return make([tensors[i] for i in case.groups[0]["params"]], **hyper, **options), tensors
    groups = [_target_group(case, g, tensors) for g in case.groups if "added_at" not in g]
    return make(groups, **options), tensors


def _apply_step(opt: Any, tensors: list[Any], case: Case, k: int) -> None:
    """Step ``k`` of the case: groups added and hyperparameters edited before it, its gradients, the step."""
    for group in case.groups:
        if group.get("added_at") == k:
            opt.add_param_group(_target_group(case, group, tensors))
    for gi, key, value in case.edits.get(k, []):
        opt.param_groups[gi][key] = lr_value(case, value) if key == "lr" else value
    for p, g in zip(tensors, case.grads[k]):
        p.grad = torch_grad(g, case)
    opt.step()


def refused_on_the_for_loop_path(target: Target, case: Case, exc: BaseException, k: int | None) -> bool:
    """Whether the target refuses ``case`` without its path flags (``foreach``, ``fused``) too, at
    the same point (construction, or step ``k + 1``), with the same exception type and message:
    it does not offer what the case asks (complex params, sparse gradients, differentiable) on
    any path. Its refusal is then unsupported, as on the for-loop path, although torch refuses
    this path with its own exception (spec R27)."""
    from adagrad.conformance.engine.refusals import same_refusal

    if not (case.options.get("foreach") or case.options.get("fused")):
        return False
    plain = {key: v for key, v in case.options.items() if key not in ("foreach", "fused")}
    try:
        opt, tensors = _construct(target, case, make=target.factory, options=plain)
    except Exception as again:  # noqa: BLE001 - compared with the refusal, never raised
        return k is None and same_refusal(again, exc)
    if k is None:
        return False
    j = -1
    try:
        opt = _load_start(opt, case, target)
        for j in range(k + 1):
            _apply_step(opt, tensors, case, j)
    except Exception as again:  # noqa: BLE001 - compared with the refusal, never raised
        return j == k and same_refusal(again, exc)
    return False


def _target_group(case: Case, group: dict[str, Any], tensors: list[Any]) -> dict[str, Any]:
    g = given_hyper(case, {k: v for k, v in group.items() if k not in ("params", "added_at")})
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

    from adagrad.conformance.engine.state_mapping import NO_MAPPING

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


def write_counts(opt: Any, tensors: list[Any]) -> dict[int, int]:
    """How often each tensor the target holds as params or state has been written in place (torch's
    version counter, by tensor id): a refusal after a write to one of them is not clean even when
    the write left its bits unchanged (a tiny addend absorbed by a large sum), so whether a
    refusal is clean does not depend on the values an example draws. State is what the optimizer
    keeps in its attributes whose names contain ``state`` (``state``, torchopt's
    ``state_groups``), walked through dicts, lists and tuples."""
    import torch

    counts: dict[int, int] = {}
    seen: set[int] = set()

    def walk(x: Any, depth: int) -> None:
        if isinstance(x, torch.Tensor):
            counts[id(x)] = x._version
            return
        if depth > 6 or id(x) in seen:
            return
        seen.add(id(x))
        if isinstance(x, dict):
            for v in list(x.values()):
                walk(v, depth + 1)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v, depth + 1)

    for t in tensors:
        walk(t, 0)
    for name, value in list(getattr(opt, "__dict__", {}).items()):
        if "state" in name:
            walk(value, 0)
    return counts


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
                steps[i] = step_value(entry["step"])
            except (KeyError, TypeError, AttributeError) as exc:
                return TargetStep(
                    params, sums, steps, f"state of param {i} is not torch's layout ({type(exc).__name__}: {exc})"
                )
        return TargetStep(params, sums, steps)
    from adagrad.conformance.engine.state_mapping import NO_MAPPING, read_state

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
            steps[i] = step_value(entry[1])
        except (TypeError, AttributeError, ValueError) as exc:
            return TargetStep(params, sums, steps, f"state of param {i} cannot be read ({type(exc).__name__}: {exc})")
    return TargetStep(params, sums, steps)


def target_state(target: Target, opt: Any) -> list[tuple[Any, Any] | None]:
    """Each parameter's ``(sum tensor, step)`` (None: no state yet), in param-group order, read
    through the target's state mapping or torch's layout: for feature tests whose subject is the
    accumulator, not the state_dict's format. Without a mapping and without torch's layout the
    test is unsupported ("not checkable without a state mapping"); a mapping that fails is a
    failure."""
    from adagrad.conformance.engine.refusals import refuse
    from adagrad.conformance.engine.state_mapping import NO_MAPPING, read_state

    entries = read_state(target, opt)
    if isinstance(entries, str):
        if entries.startswith(NO_MAPPING):
            refuse(target, entries, whole_test=True)
        raise AssertionError(entries)
    return entries


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
        claims_refusal(target, case)
        try:
            opt, tensors = _construct(target, case)
        except Exception as exc:
            judge_refusal(target, case, exc, None, None, None)
            raise
        opt = _load_start(opt, case, target)
    else:
        opt, tensors = opt_and_params
    watched = getattr(target, "target_spec", None) is not None
    before = read_step(opt, tensors, case, -1, target) if watched else None
    for k in range(len(case.grads)):
        written = write_counts(opt, tensors) if watched else None
        try:
            _apply_step(opt, tensors, case, k)
        except Exception as exc:
            judge_refusal(
                target,
                case,
                exc,
                k,
                before,
                lambda k=k: read_step(opt, tensors, case, k - 1, target),
                wrote=lambda written=written: write_counts(opt, tensors) != written,
            )
            raise
        before = read_step(opt, tensors, case, k, target)
        if watched and k == 0:
            from adagrad.conformance.engine.refusals import supported

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
