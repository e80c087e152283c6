"""Target specs: how the suite reads a torch-API target's state, and what the target claims.

A torch-API optimizer that is not torch's keeps its per-parameter accumulator and step under its
own names (``state1``, ``exp_avg_sq``, ``sum_of_squares``), in its own dtype, sometimes quantized.
A :class:`TargetSpec` declares that (a :class:`StateMapping`), and what the target claims
(:class:`Claims`: dtypes, devices, paths, hyperparameters, features). It comes from a Python
entry point ``module:attr`` (a :class:`TargetSpec` or a dict of the file schema) or from a TOML
or JSON file, passed with ``check --target-spec``; :data:`SHIPPED` names the specs shipped for
known libraries, used when none is given.

File schema (TOML shown; JSON has the same keys)::

    warm_up = "pkg.mod:f"        # optional: f() runs once in each process that loads the target,
                                 # before any test's time starts (a JIT build on first use)
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

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from adagrad.conformance.engine.claims import (
    Claims,
    claims_from_dict,
    parse_claims,
)
from adagrad.conformance.engine.state_mapping import StateMapping
from adagrad.conformance.engine.target import Target, TargetError, check_ref, import_object

__all__ = ["SHIPPED", "TargetSpec", "attach", "load_spec", "shipped_spec", "spec_from_dict", "warm_up"]


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
class TargetSpec:
    """A target's state mapping (None: torch's layout if it has it), claims and warm-up.

    ``warm_up``: called with no arguments once in each process that loads the target (``check``'s
    probe, bounded by its loading limit, then each test process), never inside a test's time: a
    library that builds or compiles code on first use (DeepSpeed JIT-builds a C++ op, some 50 s)
    would otherwise spend a test's time limit on it and be killed mid-build.
    """

    state: StateMapping | None = None
    claims: Claims = field(default_factory=Claims)
    name: str = ""
    warm_up: Callable[[], Any] | None = None


# -- loading ------------------------------------------------------------------------------------
def _callable(data: Mapping[str, Any], key: str, resolve: bool, table: str = "state") -> Any:
    value = data.get(key)
    if value is None or callable(value):
        return value
    label = f"{table}.{key}" if table else key
    if not isinstance(value, str):
        raise TargetError(f"{label} must be 'module:attr' or a callable, got {value!r}")
    if not resolve:
        check_ref(value, label)
        return None
    obj = import_object(value, label)
    if not callable(obj):
        raise TargetError(f"{label} {value!r} is not callable")
    return obj


def spec_from_dict(data: Mapping[str, Any], name: str = "", *, resolve: bool = True) -> TargetSpec:
    """A :class:`TargetSpec` from the file schema. ``resolve=False`` checks the data without
    importing anything (the ``check`` command validates a file before it starts the suite)."""
    if not isinstance(data, Mapping):
        raise TargetError(f"target spec {name}: expected a table/object, got {type(data).__name__}")
    unknown = sorted(set(data) - {"state", "claims", "target", "warm_up"})
    if unknown:
        raise TargetError(f"target spec {name}: unknown key(s) {', '.join(unknown)}; known: state, claims, warm_up")
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
    warm_up = _callable(data, "warm_up", resolve, table="")
    return TargetSpec(state=state, claims=claims_from_dict(claims_data), name=name, warm_up=warm_up)


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
        check_ref(ref, "target spec")
        return TargetSpec(name=ref)
    obj = import_object(ref, "target spec")
    if isinstance(obj, TargetSpec):
        return replace(obj, name=obj.name or ref)
    if isinstance(obj, Mapping):
        return spec_from_dict(obj, ref)
    raise TargetError(f"target spec {ref!r} is a {type(obj).__name__}, not a TargetSpec or a dict")


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


def warm_up(target: Target) -> None:
    """Run the target spec's ``warm_up`` (if any); its exception is a usage error naming it."""
    spec = getattr(target, "target_spec", None)
    if spec is None or spec.warm_up is None:
        return
    try:
        spec.warm_up()
    except Exception as exc:  # noqa: BLE001 - whatever the library raises, said with its message
        raise TargetError(f"the target spec's warm_up raised {type(exc).__name__}: {exc}") from None
