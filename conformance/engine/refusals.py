"""Refusals: a target declining what a case asks (a hyperparameter, flag or dtype) with a clean exception is *unsupported* with the library's own message, never a pass; under ``--strict-support`` it is a failure."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from adagrad.conformance.engine.target import Target

# -- refusals -------------------------------------------------------------------------------------
#: This many examples of one test refused in a row for the same reason, and no example of it ran
#: in between: the test fixes what is refused (a parametrized flag), and it is unsupported as a
#: whole (hypothesis would otherwise draw about 50 examples before it gives up).
STREAK_LIMIT = 5


_STREAK: dict[str, Any] = {"test": None, "reason": None, "count": 0}
#: The test (pytest's id) an example of which failed: from then on a refusal in it abandons only
#: its own example, never the whole test, so that an example refused while hypothesis shrinks the
#: failure cannot turn the test into "unsupported" (and hide the failure).
_ENGAGED: dict[str, Any] = {"test": None}


def _current_test() -> str:
    return os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]


def engaged() -> None:
    """An example of the current test failed (see :data:`_ENGAGED`)."""
    _ENGAGED["test"] = _current_test()


def supported() -> None:
    """A case ran on the target: the current streak of refusals is broken."""
    _STREAK.update(test=None, reason=None, count=0)


def refuse(target: Target, reason: str, *, whole_test: bool, cause: BaseException | None = None) -> None:
    """The target refused what a case asks: unsupported with ``reason`` (never returns).

    ``whole_test``: what was refused is fixed for the whole test (a path flag, the dtype), so the
    test is reported unsupported at once; otherwise only this example is abandoned (hypothesis
    draws another; a test none of whose examples is supported is unsupported). Under
    ``--strict-support`` a refusal is a failure (AssertionError) instead.
    """
    if getattr(target, "strict_support", False):
        raise AssertionError(
            f"the target refused the case ({reason}); --strict-support makes every refusal a failure"
        ) from cause
    from adagrad.conformance.adapters.base import _SEEN, signal_unsupported

    test = _current_test()
    streak = _STREAK["count"] + 1 if (_STREAK["test"], _STREAK["reason"]) == (test, reason) else 1
    _STREAK.update(test=test, reason=reason, count=streak)
    if _ENGAGED["test"] == test or not whole_test and streak < STREAK_LIMIT:
        signal_unsupported(reason)
    import pytest

    _SEEN.append(reason)
    exc = pytest.skip.Exception(f"unsupported: {reason}")
    exc._adagrad_sanctioned = True  # type: ignore[attr-defined] - the suite's verdict, not an escape of target code
    raise exc


def names_one_of(message: str, words: Sequence[str]) -> list[str]:
    """The words (hyperparameter or flag names, dtypes, ...) an exception's message names, in any
    spelling: ``lr_decay``, ``'lr_decay'``, ``Lr Decay``."""
    import re

    text = " " + re.sub(r"[_\s`'\".,:;()=!<>\[\]]+", " ", message.lower()) + " "
    return [w for w in words if f" {w.lower().replace('_', ' ')} " in text]


def _torch_accepts(params: Any, hyper: Mapping[str, Any]) -> bool:
    """Whether torch.optim.Adagrad's constructor accepts these arguments (group dicts copied: it
    fills them in place). Params given as an iterator cannot be tried twice: False."""
    import torch

    if not isinstance(params, (list, tuple)):
        return False
    given = [dict(p) if isinstance(p, Mapping) else p for p in params]
    try:
        torch.optim.Adagrad(given, **hyper)
    except Exception:  # noqa: BLE001 - torch refuses too: the test judges the target's exception
        return False
    return True


def constructor_refusal(target: Target, params: Any, hyper: Mapping[str, Any], exc: BaseException) -> None:
    """A constructor's exception is a refusal (unsupported) when it names a hyperparameter or flag
    the call sets to other than torch's default and torch's own constructor accepts the call;
    otherwise this returns and the exception propagates."""
    from adagrad.conformance.engine.comparison import HYPER_DEFAULTS

    asked = [
        k
        for k, v in hyper.items()
        if k in HYPER_DEFAULTS and not (type(v) is type(HYPER_DEFAULTS[k]) and v == HYPER_DEFAULTS[k])
    ]
    asked += [k for k, v in hyper.items() if k not in HYPER_DEFAULTS and v not in (None, False)]
    for group in params if isinstance(params, (list, tuple)) else ():
        if isinstance(group, Mapping):
            asked += [k for k in group if k != "params" and k in HYPER_DEFAULTS]
    message = " ".join(str(exc).split())
    unknown = [k for k in hyper if f"unexpected keyword argument '{k}'" in message]
    if unknown:  # the target has no such keyword at all: whatever torch would do with it, the target cannot be asked
        refuse(
            target,
            f"{type(exc).__name__}: {message[:300]}",
            whole_test=all(k not in HYPER_DEFAULTS for k in unknown),
            cause=exc,
        )
    if hyper.get("differentiable") and (hyper.get("foreach") or hyper.get("fused")):
        # torch refuses this path (R27): the test judges the target's refusal against torch's,
        # unless the target refuses differentiable on the plain path too (it offers it on none)
        if "differentiable" in names_one_of(str(exc), ["differentiable"]) and _refused_without_path_flags(
            target, params, hyper, exc
        ):
            refuse(target, f"{type(exc).__name__}: {message[:300]}", whole_test=True, cause=exc)
        return
    named = names_one_of(str(exc), sorted(set(asked)))
    if named and (_torch_accepts(params, hyper) or _refused_altogether(target, params, hyper, named, exc)):
        refuse(
            target,
            f"{type(exc).__name__}: {message[:300]}",
            whole_test=all(k not in HYPER_DEFAULTS for k in named),
            cause=exc,
        )


def _refused_without_path_flags(target: Target, params: Any, hyper: Mapping[str, Any], exc: BaseException) -> bool:
    """Whether the target's constructor refuses the call without ``foreach``/``fused`` too, with
    the same exception type and message."""
    if not isinstance(params, (list, tuple)):
        return False
    plain = {k: v for k, v in hyper.items() if k not in ("foreach", "fused")}
    given = [dict(p) if isinstance(p, Mapping) else p for p in params]
    try:
        target.factory(given, **plain)
    except Exception as again:  # noqa: BLE001 - compared with the refusal, never raised
        return same_refusal(again, exc)
    return False


def same_refusal(again: BaseException, exc: BaseException) -> bool:
    """Whether two exceptions are the same refusal: the same type and message (spacing aside)."""
    return type(again) is type(exc) and str(again).split() == str(exc).split()


#: A valid value other than torch's default for each validated hyperparameter: what a target that
#: supports the hyperparameter at all must accept.
_VALID_NON_DEFAULT = {"lr": 0.5, "lr_decay": 0.5, "weight_decay": 0.5, "initial_accumulator_value": 0.5, "eps": 0.5}


def _refused_altogether(
    target: Target, params: Any, hyper: Mapping[str, Any], named: Sequence[str], exc: BaseException
) -> bool:
    """Whether the target refuses a hyperparameter the call sets to a value torch rejects too
    (``lr_decay=-0.5``) for every value: it raises the same exception type, naming it, for a valid
    non-default value as well (``lr_decay=0.5``) that torch accepts. Such a target does not support
    the hyperparameter, so how it validates one cannot be checked; a target that accepts the valid
    value validates the bad one, and the calling test judges its exception."""
    if not isinstance(params, (list, tuple)) or any(isinstance(p, Mapping) for p in params):
        return False
    for key in named:
        if key not in _VALID_NON_DEFAULT or key not in hyper:
            continue
        probe = {**hyper, key: _VALID_NON_DEFAULT[key]}
        if not _torch_accepts(params, probe):
            continue
        try:
            target.factory(list(params), **probe)
        except type(exc) as again:
            if key in names_one_of(str(again), [key]):
                return True
        except Exception:  # noqa: BLE001 - another exception for the valid value: not the same refusal
            continue
    return False
