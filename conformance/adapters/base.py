"""What every adapter shares: the Unsupported signal, claimable features, and target resolution."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adagrad.conformance.engine.target import Target, TargetError, import_object, load_target
from adagrad.conformance.features import FEATURES

__all__ = [
    "ADAPTERS",
    "CLAIMABLE",
    "AdapterError",
    "Resolved",
    "Unsupported",
    "resolve",
    "signal_unsupported",
    "take_unsupported",
]

#: ``--adapter`` values: ``torch`` (a torch Optimizer, the default) or ``functional``; the
#: subprocess adapter is selected by ``--exec COMMAND`` instead.
ADAPTERS = ("torch", "functional", "exec")

#: Features a non-torch implementation can serve through an adapter. The others test torch's
#: Optimizer API itself (state_dict, hooks, closure, validation messages), torch-only paths
#: (foreach, fused, differentiable), torch tensor types (sparse, tensor lr, strides, complex
#: views) or per-group API (add_param_group): always unsupported through an adapter.
CLAIMABLE = frozenset(
    {
        "numerics-float64",
        "numerics-float32",
        "numerics-float16",
        "numerics-bfloat16",
        "hyperparameters",
        "golden",
        "non-finite",
        "missing-grads",
        "lr-schedule",
        "shapes",
    }
)


class Unsupported(Exception):
    """The implementation cannot express what a case asks (a hyperparameter, a dtype, a feature).

    Raised by adapters; the message says what, e.g. ``"weight_decay != 0 (optax.adagrad has no
    weight decay)"``. Never a conformance failure: it is reported as unsupported.
    """


class AdapterError(TargetError):
    """An adapter cannot be set up (bad protocol object, program that does not start): exit 2."""


#: Reasons signalled in this process since the plugin last took them (one test at a time).
_SEEN: list[str] = []


def signal_unsupported(reason: str) -> None:
    """Record ``reason`` and abandon the current example: rejected in hypothesis, else skipped."""
    _SEEN.append(reason)
    try:
        from hypothesis import currently_in_test_context, reject

        if currently_in_test_context():
            reject()  # hypothesis draws another example; Unsatisfiable if none is supported
    except ImportError:  # pragma: no cover - hypothesis is a dependency of the suite
        pass
    import pytest

    exc = pytest.skip.Exception(f"unsupported: {reason}")
    exc._adagrad_sanctioned = True  # type: ignore[attr-defined] - the bridge's signal, not an escape of target code
    raise exc


def take_unsupported() -> list[str]:
    """The distinct reasons signalled since the last call (and forget them)."""
    seen = list(dict.fromkeys(_SEEN))
    _SEEN.clear()
    return seen


@dataclass(frozen=True)
class Resolved:
    """A target ready for the suite, and the features it claims (None: all of them)."""

    target: Target
    claimed: frozenset[str] | None
    description: str

    @property
    def unsupported(self) -> list[str]:
        """Features the implementation does not claim, in FEATURES order."""
        if self.claimed is None:
            return []
        return [f for f in FEATURES if f not in self.claimed]


def resolve(
    spec: str | None,
    adapter: str = "torch",
    exec_command: str | None = None,
    *,
    exec_timeout: float = 10.0,
    target_spec: str | None = None,
    claims: Sequence[str] = (),
    strict_support: bool = False,
) -> Resolved:
    """Build the target the suite runs: a torch optimizer, or a bridge around another implementation.

    A torch-API target gets its target spec (``target_spec``, else the one shipped for it, else
    none; ``"none"``: none), ``claims`` and the ``--strict-support`` setting; its description
    names the spec. Raises :class:`~adagrad.conformance.engine.target.TargetError` (a usage error) when
    the target or program cannot be loaded or does not follow its protocol.
    """
    if exec_command:
        from adagrad.conformance.adapters.functional import bridge
        from adagrad.conformance.adapters.subprocess_protocol import SubprocessAdagrad

        impl = SubprocessAdagrad(exec_command, timeout=exec_timeout)
        claimed = frozenset(impl.features) & CLAIMABLE
        loader = f"from adagrad.conformance.adapters import resolve\nTarget = resolve(None, exec_command={exec_command!r}).target.factory"
        return Resolved(
            Target(f"exec:{exec_command}", bridge(impl), loader),
            claimed,
            f"program `{exec_command}` (subprocess protocol)",
        )
    if spec is None:
        raise TargetError("a target (module:attr) is needed unless --exec is given")
    if adapter == "torch":
        from adagrad.conformance.engine.target_spec import attach

        target = attach(load_target(spec), target_spec, claims, strict_support)
        unclaimed = target.target_spec.claims.unclaimed_features()
        named = f"; target spec {target.target_spec.name}" if target.target_spec.name else ""
        return Resolved(target, frozenset(FEATURES) - set(unclaimed), f"{spec} (torch Optimizer API{named})")
    if adapter == "functional":
        from adagrad.conformance.adapters.functional import bridge, check_protocol

        obj: Any = import_object(spec)
        impl = obj() if isinstance(obj, type) else obj  # a class is instantiated with no arguments
        check_protocol(impl, spec)
        claimed = frozenset(impl.features) & CLAIMABLE
        loader = (
            f"from adagrad.conformance.adapters import resolve\nTarget = resolve({spec!r}, 'functional').target.factory"
        )
        return Resolved(Target(spec, bridge(impl), loader), claimed, f"{spec} (functional protocol)")
    raise TargetError(f"unknown adapter {adapter!r}; choose one of {', '.join(ADAPTERS[:2])} (or --exec COMMAND)")
