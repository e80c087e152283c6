"""Target specs: how the suite reads a torch-API target's state, and what the target claims.

A torch-API optimizer that is not torch's keeps its per-parameter accumulator and step under its
own names (``state1``, ``exp_avg_sq``, ``sum_of_squares``), in its own dtype, sometimes quantized.
A :class:`TargetSpec` declares that (a :class:`StateMapping`), and what the target claims
(:class:`Claims`: dtypes, devices, paths, hyperparameters, features). It comes from a Python
entry point ``module:attr`` (a :class:`TargetSpec` or a dict of the file schema) or from a TOML
or JSON file, passed with ``check --target-spec``; :data:`SHIPPED` names the specs shipped for
known libraries, used when none is given.

File schema (TOML shown; JSON has the same keys)::

    [state]                      # how to read (and, for teacher forcing, write) the state
    sum = "exp_avg_sq"           # key of the accumulator in opt.state[p] (default "sum")
    step = "step"                # key of the step count (default "step")
    step_type = "int"            # how a loaded step is stored: "tensor" (float32, torch's) or "int"
    sum_dtype = "float32"        # optional: the dtype it holds the accumulator in (loaded sums are cast)
    sum_transform = "pkg.mod:f"  # optional: f(state entry) -> accumulator tensor (dequantization)
    read = "pkg.mod:read"        # optional, instead of the keys: read(opt) -> [(sum, step) | None]
    write = "pkg.mod:write"      # optional: write(opt, [(sum tensor, step int)]) loads a start state
    [claims]                     # everything left out is claimed
    dtypes = ["float32", "float16", "bfloat16"]
    devices = ["cpu"]
    paths = ["for-loop"]         # of for-loop, foreach, fused
    hyperparameters = ["lr", "eps", "weight_decay"]
    features = ["numerics-float32", ...]   # or: not_claimed = ["hooks", ...]

Without a spec, the suite reads torch's layout (``state_dict()["state"][i]["sum"]``/``["step"]``)
when the target has it; when it does not, only the parameters are judged (free-running
trajectories), and teacher-forced cases are *unsupported: not checkable without a state mapping*.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from adagrad.conformance.engine.target import Target, TargetError
from adagrad.conformance.features import FEATURES

__all__ = [
    "CLAIM_KEYS",
    "DTYPES",
    "NO_MAPPING",
    "PATHS",
    "SHIPPED",
    "Claims",
    "StateMapping",
    "TargetSpec",
    "attach",
    "constructor_refusal",
    "load_spec",
    "names_one_of",
    "parse_claims",
    "check_claims",
    "check_construction_claims",
    "read_state",
    "refuse",
    "shipped_spec",
]

#: Claimable values.
DTYPES = ("float64", "float32", "float16", "bfloat16", "complex128", "complex64")
PATHS = ("for-loop", "foreach", "fused")
HYPERPARAMETERS = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize")
CLAIM_KEYS = ("dtypes", "devices", "paths", "hyperparameters", "features", "not_claimed")

#: Unsupported reason of a check that needs the target's state when no mapping says where it is.
NO_MAPPING = "not checkable without a state mapping"

#: Target specs shipped for torch-API optimizers of other libraries: ``check TARGET`` uses the
#: one named here unless ``--target-spec`` says otherwise.
SHIPPED: dict[str, str] = {
    "torchopt:Adagrad": "adagrad.conformance.adapters.torchopt_adagrad:SPEC",
    "torchopt:AdaGrad": "adagrad.conformance.adapters.torchopt_adagrad:SPEC",
    "torchopt.optim:AdaGrad": "adagrad.conformance.adapters.torchopt_adagrad:SPEC",
    "bitsandbytes.optim:Adagrad": "adagrad.conformance.adapters.bitsandbytes_adagrad:SPEC",
    "bitsandbytes.optim:Adagrad32bit": "adagrad.conformance.adapters.bitsandbytes_adagrad:SPEC",
    "bitsandbytes.optim:Adagrad8bit": "adagrad.conformance.adapters.bitsandbytes_adagrad:SPEC",
    "deepspeed.ops.adagrad:DeepSpeedCPUAdagrad": "adagrad.conformance.adapters.deepspeed_adagrad:SPEC",
}


@dataclass(frozen=True)
class StateMapping:
    """Where a target keeps each parameter's accumulator (torch's ``sum``) and step.

    Either keys of the per-parameter state dict ``opt.state[p]`` (``sum_key``, ``step_key``,
    with an optional ``sum_transform(entry) -> tensor``, e.g. dequantization), or two callables:
    ``read(opt)`` returning one ``(sum tensor, step)`` or None (no state yet) per parameter in
    param-group order, and ``write(opt, [(sum tensor, step int), ...])`` loading a start state
    (teacher forcing; without it, key-based writing into ``opt.state[p]``).
    """

    sum_key: str = "sum"
    step_key: str = "step"
    step_type: str = "tensor"
    #: dtype the target holds its accumulator in whatever the param's (e.g. "float32"); None: the param's
    sum_dtype: str | None = None
    sum_transform: Callable[[Mapping[str, Any]], Any] | None = None
    read: Callable[[Any], Sequence[tuple[Any, Any] | None]] | None = None
    write: Callable[[Any, Sequence[tuple[Any, int]]], None] | None = None

    def __post_init__(self) -> None:
        if self.step_type not in ("tensor", "int"):
            raise TargetError(f"state mapping: step_type must be 'tensor' or 'int', got {self.step_type!r}")
        if self.sum_dtype is not None and self.sum_dtype not in DTYPES:
            raise TargetError(f"state mapping: sum_dtype must be one of {', '.join(DTYPES)}, got {self.sum_dtype!r}")

    def read_all(self, opt: Any) -> list[tuple[Any, Any] | None]:
        """One ``(sum, step)`` or None per parameter, in param-group order."""
        if self.read is not None:
            return list(self.read(opt))
        out: list[tuple[Any, Any] | None] = []
        for group in opt.param_groups:
            for p in group["params"]:
                entry = opt.state.get(p) if hasattr(opt.state, "get") else None
                if not entry:
                    out.append(None)
                    continue
                total = self.sum_transform(entry) if self.sum_transform else entry[self.sum_key]
                out.append((total, entry[self.step_key]))
        return out

    def write_all(self, opt: Any, start: Sequence[tuple[Any, int]]) -> None:
        """Load ``(sum, step)`` per parameter (param-group order) into a fresh optimizer."""
        if self.write is not None:
            self.write(opt, start)
            return
        if self.sum_transform is not None:
            raise TargetError("state mapping: a sum_transform needs a write callable for teacher forcing")
        import torch

        params = [p for group in opt.param_groups for p in group["params"]]
        for p, (total, step) in zip(params, start):
            entry = opt.state[p]
            entry[self.step_key] = torch.tensor(float(step)) if self.step_type == "tensor" else int(step)
            entry[self.sum_key] = total.to(getattr(torch, self.sum_dtype)) if self.sum_dtype else total


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


@dataclass(frozen=True)
class TargetSpec:
    """A target's state mapping (None: torch's layout if it has it) and claims."""

    state: StateMapping | None = None
    claims: Claims = field(default_factory=Claims)
    name: str = ""


# -- loading ------------------------------------------------------------------------------------
def _import(ref: str, what: str) -> Any:
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise TargetError(f"{what} {ref!r} must have the form 'module:attr'")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - whatever the import raised, name it
        raise TargetError(f"{what} {ref!r}: cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise TargetError(f"{what} {ref!r}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


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


def _callable(data: Mapping[str, Any], key: str, resolve: bool) -> Any:
    value = data.get(key)
    if value is None or callable(value):
        return value
    if not isinstance(value, str):
        raise TargetError(f"state: {key} must be 'module:attr' or a callable, got {value!r}")
    if not resolve:
        _import_syntax(value, f"state.{key}")
        return None
    obj = _import(value, f"state.{key}")
    if not callable(obj):
        raise TargetError(f"state.{key} {value!r} is not callable")
    return obj


def _import_syntax(ref: str, what: str) -> None:
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise TargetError(f"{what} {ref!r} must have the form 'module:attr'")


def spec_from_dict(data: Mapping[str, Any], name: str = "", *, resolve: bool = True) -> TargetSpec:
    """A :class:`TargetSpec` from the file schema. ``resolve=False`` checks the data without
    importing anything (the ``check`` command validates a file before it starts the suite)."""
    if not isinstance(data, Mapping):
        raise TargetError(f"target spec {name}: expected a table/object, got {type(data).__name__}")
    unknown = sorted(set(data) - {"state", "claims", "target"})
    if unknown:
        raise TargetError(f"target spec {name}: unknown key(s) {', '.join(unknown)}; known: state, claims")
    state = None
    if "state" in data:
        s = data["state"]
        if not isinstance(s, Mapping):
            raise TargetError(f"target spec {name}: [state] must be a table")
        bad = sorted(set(s) - {"sum", "step", "step_type", "sum_dtype", "sum_transform", "read", "write"})
        if bad:
            raise TargetError(f"target spec {name}: unknown state key(s) {', '.join(bad)}")
        for key in ("sum", "step", "step_type", "sum_dtype"):
            if key in s and not isinstance(s[key], str):
                raise TargetError(f"target spec {name}: state.{key} must be a string, got {s[key]!r}")
        state = StateMapping(
            sum_key=s.get("sum", "sum"),
            step_key=s.get("step", "step"),
            step_type=s.get("step_type", "tensor"),
            sum_dtype=s.get("sum_dtype"),
            sum_transform=_callable(s, "sum_transform", resolve),
            read=_callable(s, "read", resolve),
            write=_callable(s, "write", resolve),
        )
    claims_data = data.get("claims", {})
    if not isinstance(claims_data, Mapping):
        raise TargetError(f"target spec {name}: [claims] must be a table")
    return TargetSpec(state=state, claims=claims_from_dict(claims_data), name=name)


def load_spec(ref: str, *, resolve: bool = True) -> TargetSpec:
    """A spec from a ``.toml``/``.json`` file or a ``module:attr`` entry point.

    Raises :class:`~.target.TargetError` (a usage error) naming what is wrong. With
    ``resolve=False`` nothing is imported (an entry point is checked for its form only).
    """
    path = Path(ref)
    if path.suffix.lower() in (".toml", ".json"):
        if not path.is_file():
            raise TargetError(f"target spec file {ref} does not exist")
        text = path.read_text()
        try:
            if path.suffix.lower() == ".json":
                data = json.loads(text)
            else:
                try:
                    import tomllib
                except ModuleNotFoundError:  # Python 3.10
                    import tomli as tomllib  # type: ignore[no-redef]
                data = tomllib.loads(text)
        except ValueError as exc:
            raise TargetError(f"target spec file {ref} cannot be parsed: {exc}") from None
        return spec_from_dict(data, str(path), resolve=resolve)
    if not resolve:
        _import_syntax(ref, "target spec")
        return TargetSpec(name=ref)
    obj = _import(ref, "target spec")
    if isinstance(obj, TargetSpec):
        return replace(obj, name=obj.name or ref)
    if isinstance(obj, Mapping):
        return spec_from_dict(obj, ref)
    raise TargetError(f"target spec {ref!r} is a {type(obj).__name__}, not a TargetSpec or a dict")


def parse_claims(items: Sequence[str]) -> Claims:
    """``--claims KEY=A,B`` options (repeatable) as :class:`Claims`."""
    data: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.strip():
            raise TargetError(f"--claims {item!r}: expected KEY=VALUE[,VALUE...], e.g. dtypes=float32,bfloat16")
        data.setdefault(key.strip(), []).extend(v.strip() for v in values.split(",") if v.strip())
    return claims_from_dict(data)


def shipped_spec(target: str) -> str | None:
    """The entry point of the spec shipped for ``target`` (``module:attr``), or None."""
    return SHIPPED.get(target)


def attach(
    target: Target, spec_ref: str | None = None, claims: Sequence[str] = (), strict_support: bool = False
) -> Target:
    """``target`` with its spec (``spec_ref``, else the shipped one, else none), command-line
    claims and the ``--strict-support`` setting."""
    ref = spec_ref if spec_ref and spec_ref != "none" else (None if spec_ref == "none" else shipped_spec(target.spec))
    spec = load_spec(ref) if ref else TargetSpec()
    if claims:
        spec = replace(spec, claims=spec.claims.merged(parse_claims(claims)))
    return replace(target, target_spec=spec, strict_support=strict_support)


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

    tensors = [
        t
        for x in (params if isinstance(params, (list, tuple)) else ())
        for t in (x.get("params", ()) if isinstance(x, Mapping) else (x,))
    ]
    first = next((t for t in tensors if hasattr(t, "dtype") and hasattr(t, "device")), None)
    if first is None:
        return
    settings = [hyper, *(x for x in params if isinstance(x, Mapping))]
    given = [
        k
        for d in settings
        for k, v in d.items()
        if k in HYPER_DEFAULTS and not (type(v) is type(HYPER_DEFAULTS[k]) and v == HYPER_DEFAULTS[k])
    ]
    options = {k: v for k, v in hyper.items() if k in ("foreach", "fused")}
    check_claims(target, str(first.dtype).removeprefix("torch."), first.device.type, options, given)


# -- refusals -------------------------------------------------------------------------------------
#: This many examples of one test refused in a row for the same reason, and no example of it ran
#: in between: the test fixes what is refused (a parametrized flag), and it is unsupported as a
#: whole (hypothesis would otherwise draw about 50 examples before it gives up).
STREAK_LIMIT = 5
_STREAK: dict[str, Any] = {"test": None, "reason": None, "count": 0}


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

    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    streak = _STREAK["count"] + 1 if (_STREAK["test"], _STREAK["reason"]) == (test, reason) else 1
    _STREAK.update(test=test, reason=reason, count=streak)
    if not whole_test and streak < STREAK_LIMIT:
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
        return  # torch refuses this path at its step: the test judges the target's refusal against torch's
    named = names_one_of(str(exc), sorted(set(asked)))
    if named and _torch_accepts(params, hyper):
        refuse(
            target,
            f"{type(exc).__name__}: {message[:300]}",
            whole_test=all(k not in HYPER_DEFAULTS for k in named),
            cause=exc,
        )


# -- reading state for the suite ---------------------------------------------------------------
def read_state(target: Target, opt: Any) -> list[tuple[Any, Any] | None] | str:
    """Each parameter's ``(sum tensor, step)`` or None (no state), in param-group order, through
    the target's mapping or torch's layout; a string when it cannot be read (why)."""
    spec = getattr(target, "target_spec", None)
    if spec is not None and spec.state is not None:
        try:
            return spec.state.read_all(opt)
        except Exception as exc:  # noqa: BLE001 - a mapping that does not fit the target's state
            try:
                torch_layout = _torch_layout(opt)  # e.g. a torch optimizer handing over to the target
            except Exception:  # noqa: BLE001
                torch_layout = None
            return (
                torch_layout
                if isinstance(torch_layout, list)
                else (f"the target's state cannot be read through its state mapping ({type(exc).__name__}: {exc})")
            )
    return _torch_layout(opt)


def _torch_layout(opt: Any) -> list[tuple[Any, Any] | None] | str:
    sd = opt.state_dict()  # if this raises, the target's state cannot be read: the caller says so
    try:
        state = sd["state"]
        groups = sd["param_groups"]
    except Exception as exc:  # noqa: BLE001
        return f"{NO_MAPPING} (state_dict() is not torch's: {type(exc).__name__}: {exc})"
    ids = [i for g in groups for i in g["params"]]
    out: list[tuple[Any, Any] | None] = []
    for i in ids:
        entry = state.get(i)
        if not entry:
            out.append(None)
        elif "sum" not in entry or "step" not in entry:
            return f"{NO_MAPPING} (state keys {sorted(entry)}, not torch's sum and step)"
        else:
            out.append((entry["sum"], entry["step"]))
    return out
