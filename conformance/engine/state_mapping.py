"""Where a target keeps each parameter's accumulator and step: a declared :class:`StateMapping` (keys, a dequantizing transform, or read/write callables), or torch's layout; :func:`read_state` reads it for the suite."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adagrad.conformance.engine.claims import (
    DTYPES,
)
from adagrad.conformance.engine.target import Target, TargetError

#: Unsupported reason of a check that needs the target's state when no mapping says where it is.
NO_MAPPING = "not checkable without a state mapping"


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
