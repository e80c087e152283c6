"""When running a case, which exceptions of the target are refusals (unsupported) and which are failures: a refusal names what the case asks, comes before anything changed, and is not torch's own refusal."""

from __future__ import annotations

from typing import Any

import numpy as np

from adagrad.conformance.engine.case import Case, TargetStep
from adagrad.conformance.engine.target import Target
from adagrad.conformance.engine.torch_io import (
    given_hyper,
)

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
            key
            for key in given_hyper(case, {a: b for a, b in g.items() if a not in ("params", "added_at")})
            if key != "lr"
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
    from adagrad.conformance.engine.refusals import names_one_of

    return bool(names_one_of(message, words))


def _torch_refusal(case: Case) -> bool:
    """Whether torch itself refuses this case on its path (strategies.REFUSALS: fused with sparse
    or complex, foreach or fused with differentiable): the calling feature judges the target's
    exception against torch's (check_or_refused), unless the target refuses the case without its
    path flags too (it offers what is asked on no path): then it is unsupported here."""
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


def judge_refusal(
    target: Target,
    case: Case,
    exc: Exception,
    k: int | None,
    before: TargetStep | None,
    after: Any,
    wrote: Any = None,
) -> None:
    """Whether a target's exception is a clean refusal of what the case asks: then the case is
    unsupported (the library's message as the reason) unless ``--strict-support``; else return
    (the caller re-raises: a failure). ``after`` reads the target's state now; ``wrote`` says
    whether the failed step wrote its params or state in place (even without changing a bit)."""
    from hypothesis.errors import UnsatisfiedAssumption

    from adagrad.conformance.engine.refusals import engaged, refuse

    if isinstance(exc, UnsatisfiedAssumption):
        return  # the suite's own signal that this example was refused (hypothesis draws another)
    if getattr(target, "target_spec", None) is None or not isinstance(exc, REFUSAL_TYPES):
        engaged()
        return
    message = " ".join(str(exc).split()) or type(exc).__name__
    drawn, fixed = _asked(case, k)
    named_drawn = _names_one_of(message, drawn)
    if not (named_drawn or _names_one_of(message, fixed)):
        engaged()
        return
    if _torch_refusal(case):
        from adagrad.conformance.engine.target_run import refused_on_the_for_loop_path

        if not refused_on_the_for_loop_path(target, case, exc, k):
            engaged()
            return
    if before is not None:
        try:
            now = after()
        except Exception:  # noqa: BLE001 - unreadable after the refusal: not clean
            engaged()
            return
        if not _same_state(before, now) or (wrote is not None and wrote()):
            engaged()
            raise AssertionError(
                f"the target refused ({type(exc).__name__}: {message}) after step {k + 1} had "
                "already changed its params or state (their values, or an in-place write): a refusal "
                "must come before any change"
            ) from exc
    refuse(target, f"{type(exc).__name__}: {message[:300]}", whole_test=not named_drawn, cause=exc)


def claims_refusal(target: Target, case: Case) -> None:
    from adagrad.conformance.engine.claims import check_claims

    given = [
        key
        for g in case.groups
        for key in given_hyper(case, {a: b for a, b in g.items() if a not in ("params", "added_at")})
    ]
    given += [key for edits in case.edits.values() for _, key, _v in edits]
    check_claims(target, case.dtype, case.device, case.options, given)
