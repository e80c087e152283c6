"""Target spec for ``torchopt.Adagrad`` (``torchopt.AdaGrad``, 0.7.x). ``pip install -c
constraints.txt -e '.[torchopt]'``; ``check torchopt:Adagrad`` uses this spec unless
``--target-spec`` says otherwise.

- torch's constructor signature (``lr``, ``lr_decay``, ``weight_decay``,
  ``initial_accumulator_value``, ``eps``, keyword ``maximize``), but not a
  ``torch.optim.Optimizer``: ``param_groups`` is a list of tuples of tensors (no hyperparameter
  dicts), ``add_param_group`` takes tensors, ``state_dict()`` is a tuple of the groups' states,
  no hooks, no ``foreach``/``fused``/``differentiable`` keywords (TypeError: unsupported).
- State per group, created at its first step (``UninitializedState`` before): a chain of
  transformation states; ``ScaleByRssState.sum_of_squares`` holds torch's ``sum`` and
  ``ScaleByScheduleState.count`` the step (an int64 tensor), one entry per parameter of the group.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adagrad.conformance.engine.state_mapping import StateMapping
from adagrad.conformance.engine.target_spec import TargetSpec

__all__ = ["SPEC", "read", "write"]


def _parts(state: Any) -> list[Any]:
    """The transformation states in a group's (possibly nested) chain state."""
    if isinstance(state, tuple) and not hasattr(state, "_fields"):
        return [x for s in state for x in _parts(s)]
    return [state]


def _has(state: Any, name: str) -> bool:
    return name in getattr(state, "_fields", ())  # a field (a namedtuple's own count() is not one)


def _initialized(state: Any) -> bool:
    return type(state).__name__ != "UninitializedState"


def read(opt: Any) -> list[tuple[Any, Any] | None]:
    """``(sum_of_squares, count)`` per parameter in group order; None for a group not stepped yet."""
    out: list[tuple[Any, Any] | None] = []
    for params, state in zip(opt.param_groups, opt.state_groups):
        if not _initialized(state):
            out += [None] * len(params)
            continue
        parts = _parts(state)
        sums = next(s.sum_of_squares for s in parts if _has(s, "sum_of_squares"))
        counts = next(s.count for s in parts if _has(s, "count"))
        out += list(zip(sums, counts))
    return out


def write(opt: Any, start: Sequence[tuple[Any, int]]) -> None:
    """Initialise every group's state (``opt.impl.init``) and load ``(sum, step)`` per parameter."""
    import torch

    pairs = iter(start)
    for gi, params in enumerate(opt.param_groups):
        state = opt.state_groups[gi]
        if not _initialized(state):
            state = opt.impl.init(params)
        loaded = [next(pairs) for _ in params]

        def replaced(s: Any, loaded: list[Any] = loaded) -> Any:
            if isinstance(s, tuple) and not hasattr(s, "_fields"):
                return type(s)(replaced(x, loaded) for x in s)
            if _has(s, "sum_of_squares"):
                return s._replace(
                    sum_of_squares=[t.to(old.dtype).clone() for (t, _), old in zip(loaded, s.sum_of_squares)]
                )
            if _has(s, "count"):
                return s._replace(count=[torch.tensor(int(k), dtype=old.dtype) for (_, k), old in zip(loaded, s.count)])
            return s

        opt.state_groups[gi] = replaced(state)


SPEC = TargetSpec(state=StateMapping(read=read, write=write), name="adagrad.conformance.adapters.torchopt_adagrad:SPEC")
