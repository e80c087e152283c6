"""What a target claims (dtypes, devices, paths, hyperparameters, features), and the check that puts a case outside them: *not claimed* (the whole test) or *unsupported* (one example)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adagrad.conformance.engine.target import Target, TargetError
from adagrad.conformance.features import FEATURES

#: Claimable values.
DTYPES = ("float64", "float32", "float16", "bfloat16", "complex128", "complex64")
PATHS = ("for-loop", "foreach", "fused")
HYPERPARAMETERS = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize")


CLAIM_KEYS = ("dtypes", "devices", "paths", "hyperparameters", "features", "not_claimed")


@dataclass(frozen=True)
class Claims:
    """What a target claims; None: everything. Unclaimed cases are reported, never failed."""

    dtypes: frozenset[str] | None = None
    devices: frozenset[str] | None = None
    paths: frozenset[str] | None = None
    hyperparameters: frozenset[str] | None = None
    features: frozenset[str] | None = None
    not_claimed: frozenset[str] = frozenset()

    def unclaimed_features(self) -> list[str]:
        """Whole features outside the claims, in FEATURES order."""
        out = []
        for name in FEATURES:
            dtype = name.removeprefix("numerics-") if name.startswith("numerics-") else None
            if (
                name in self.not_claimed
                or (self.features is not None and name not in self.features)
                or (dtype and self.dtypes is not None and dtype not in self.dtypes)
                or (name == "complex" and self.dtypes is not None and not {"complex64", "complex128"} & self.dtypes)
                or (name in ("foreach", "fused") and self.paths is not None and name not in self.paths)
            ):
                out.append(name)
        return out

    def refusal(self, dtype: str, device: str, options: Mapping[str, Any], given: Sequence[str]) -> str | None:
        """Why a case is outside the claims (``"not claimed: ..."``), or None."""
        if self.dtypes is not None and dtype not in self.dtypes:
            return f"not claimed: dtype {dtype} (claimed: {', '.join(sorted(self.dtypes))})"
        if self.devices is not None and device.split(":")[0] not in self.devices:
            return f"not claimed: device {device} (claimed: {', '.join(sorted(self.devices))})"
        path = "fused" if options.get("fused") else "foreach" if options.get("foreach") else "for-loop"
        if self.paths is not None and path not in self.paths:
            return f"not claimed: the {path} path (claimed: {', '.join(sorted(self.paths))})"
        if self.hyperparameters is not None:
            extra = [k for k in given if k in HYPERPARAMETERS and k not in self.hyperparameters]
            if extra:
                return f"not claimed: hyperparameter {', '.join(extra)} (claimed: {', '.join(sorted(self.hyperparameters))})"
        return None

    def merged(self, other: Claims) -> Claims:
        """Both sets of claims at once (the narrower wins)."""

        def both(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
            return b if a is None else a if b is None else a & b

        return Claims(
            both(self.dtypes, other.dtypes),
            both(self.devices, other.devices),
            both(self.paths, other.paths),
            both(self.hyperparameters, other.hyperparameters),
            both(self.features, other.features),
            self.not_claimed | other.not_claimed,
        )


def _names(value: Any, key: str, allowed: Sequence[str] | None) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
        raise TargetError(f"claims: {key} must be a list of names, got {value!r}")
    names = frozenset(str(v) for v in value)
    if allowed is not None:
        unknown = sorted(names - set(allowed))
        if unknown:
            raise TargetError(f"claims: unknown {key} {', '.join(unknown)}; known: {', '.join(allowed)}")
    return names


def claims_from_dict(data: Mapping[str, Any]) -> Claims:
    """:class:`Claims` from the ``[claims]`` table (unknown keys and names are errors)."""
    unknown = sorted(set(data) - set(CLAIM_KEYS))
    if unknown:
        raise TargetError(f"claims: unknown key(s) {', '.join(unknown)}; known: {', '.join(CLAIM_KEYS)}")
    allowed = {
        "dtypes": DTYPES,
        "devices": None,
        "paths": PATHS,
        "hyperparameters": HYPERPARAMETERS,
        "features": tuple(FEATURES),
        "not_claimed": tuple(FEATURES),
    }
    kw = {k: _names(v, k, allowed[k]) for k, v in data.items()}
    return Claims(**kw)


def parse_claims(items: Sequence[str]) -> Claims:
    """``--claims KEY=A,B`` options (repeatable) as :class:`Claims`."""
    data: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.strip():
            raise TargetError(f"--claims {item!r}: expected KEY=VALUE[,VALUE...], e.g. dtypes=float32,bfloat16")
        data.setdefault(key.strip(), []).extend(v.strip() for v in values.split(",") if v.strip())
    return claims_from_dict(data)


# -- claims ---------------------------------------------------------------------------------------
def check_claims(target: Target, dtype: str, device: str, options: Mapping[str, Any], given: Sequence[str]) -> None:
    """Raise the suite's skip if a case is outside the target's claims: a dtype, device or path
    makes the whole test "not claimed"; a hyperparameter, this example "unsupported" (hypothesis
    draws another). Nothing for a target without a spec."""
    spec = getattr(target, "target_spec", None)
    reason = spec.claims.refusal(dtype, device, options, given) if spec is not None else None
    if reason is None:
        return
    from adagrad.conformance.adapters.base import signal_unsupported

    if reason.startswith("not claimed: hyperparameter"):
        signal_unsupported(reason)
    import pytest

    exc = pytest.skip.Exception(reason)
    exc._adagrad_sanctioned = True  # type: ignore[attr-defined] - the suite's verdict, not an escape of target code
    raise exc


def check_construction_claims(target: Target, params: Any, hyper: Mapping[str, Any]) -> None:
    """:func:`check_claims` for a constructor call ``make(params, **hyper)`` as a feature test writes
    it: the dtype and device of its first tensor, its path flags, and every hyperparameter it (or
    a group) sets to other than torch's default."""
    from adagrad.conformance.engine.comparison import HYPER_DEFAULTS

    given_params = params if isinstance(params, (list, tuple)) else ()  # an iterator is the target's alone
    tensors = [t for x in given_params for t in (x.get("params", ()) if isinstance(x, Mapping) else (x,))]
    first = next((t for t in tensors if hasattr(t, "dtype") and hasattr(t, "device")), None)
    if first is None:
        return
    settings = [hyper, *(x for x in given_params if isinstance(x, Mapping))]
    given = [
        k
        for d in settings
        for k, v in d.items()
        if k in HYPER_DEFAULTS and not (type(v) is type(HYPER_DEFAULTS[k]) and v == HYPER_DEFAULTS[k])
    ]
    options = {k: v for k, v in hyper.items() if k in ("foreach", "fused")}
    check_claims(target, str(first.dtype).removeprefix("torch."), first.device.type, options, given)
