"""Targets: the Adagrad under test, named ``module:attr``.

A target is a class or a factory ``f(params, **hyperparameters)`` returning an object with
torch's Optimizer API (``step``, ``zero_grad``, ``param_groups``, ``state``, ``state_dict``,
``load_state_dict``, ``add_param_group`` and the hook registrations). The suite attaches a
:class:`~.target_spec.TargetSpec` to the targets it loads (where the state is, what is claimed;
:func:`~.target_spec.attach`): only such a target's clean refusals are *unsupported*.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Target", "TargetError", "check_ref", "import_object", "load_target"]

DEFAULT_TARGET = "torch.optim:Adagrad"
#: Flags that select a path; at their off value they ask for nothing.
OFF_FLAGS = ("foreach", "fused", "differentiable", "capturable")


class TargetError(Exception):
    """The target cannot be named, imported or called (a usage error: exit status 2)."""


@dataclass(frozen=True)
class Target:
    """An importable optimizer factory; ``make(params, **hyper)`` builds one optimizer."""

    spec: str
    factory: Callable[..., Any]
    #: Python lines defining ``Target`` (the factory) in reproduction snippets; None: import ``spec``.
    loader: str | None = None
    #: How its state is read and what it claims (a ``target_spec.TargetSpec``); None: a target
    #: built outside the suite's loading (torch's layout only, every exception a failure).
    target_spec: Any = None
    #: ``--strict-support``: a refusal (constructor or step rejecting what a case asks) fails.
    strict_support: bool = False
    #: torch device the suite puts the target's tensors on (``check --device``).
    device: str = "cpu"

    def make(self, params: Any, **hyper: Any) -> Any:
        """Build one optimizer. A path flag set to its off value (``foreach=False``, ``fused=None``,
        ...) that the factory does not take as a keyword is left out, as its users leave it out:
        a library without ``foreach`` has only the plain path. For a target the suite loaded
        (``target_spec`` set), a refusal of what torch's constructor accepts (TypeError,
        ValueError, NotImplementedError or RuntimeError naming a hyperparameter or flag set here)
        is unsupported, with the library's message (a failure under ``--strict-support``); where
        torch's constructor raises too, the exception is the calling test's to judge. A call
        outside the target's claims (dtype, device, path, hyperparameter) is not claimed."""
        if self.target_spec is not None:
            from adagrad.conformance.engine.claims import check_construction_claims

            check_construction_claims(self, params, hyper)
        try:
            return self.factory(params, **hyper)
        except (TypeError, ValueError, NotImplementedError, RuntimeError) as exc:
            off = [
                k
                for k in OFF_FLAGS
                if k in hyper and hyper[k] in (None, False) and f"unexpected keyword argument '{k}'" in str(exc)
            ]
            if off:
                return self.make(params, **{k: v for k, v in hyper.items() if k not in off})
            if self.target_spec is not None:
                from adagrad.conformance.engine.refusals import constructor_refusal

                constructor_refusal(self, params, hyper, exc)
            raise

    def __str__(self) -> str:
        return self.spec


def check_ref(ref: str, what: str = "target") -> tuple[str, str]:
    """``(module, attr)`` of a ``module:attr`` reference; :class:`TargetError` if it has another form."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise TargetError(f"{what} {ref!r} must have the form 'module:attr', e.g. torch.optim:Adagrad")
    return module_name, attr


def import_object(ref: str, what: str = "target") -> Any:
    """The object ``module:attr`` names (attr may be dotted); :class:`TargetError` with one clear
    line, naming ``what`` it was for, if it cannot be imported."""
    module_name, attr = check_ref(ref, what)
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:  # any import failure is the user's to fix: name it
        raise TargetError(
            f"cannot import module {module_name!r} of {what} {ref!r}: {type(exc).__name__}: {exc}"
        ) from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"module {module_name!r} has no attribute {attr!r} ({what} {ref!r})") from None
    return obj


def load_target(spec: str) -> Target:
    """Import ``module:attr`` of a class or factory; raise :class:`TargetError` with one clear line."""
    obj = import_object(spec)
    if not callable(obj):
        raise TargetError(f"target {spec!r} is a {type(obj).__name__}, not a class or factory")
    return Target(spec, obj)
