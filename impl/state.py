"""The optimizer's per-parameter state and the saved layouts it accepts (spec R13, R14, R18).

Every parameter's state is ``{"step": 0-dim float64 tensor, "sum": tensor like the parameter}``,
made in one place (:func:`new_state`). Loading a state_dict or unpickling goes through
:func:`check_param_states` (both keys, or neither) and :func:`backfill_group_keys` (the keys an
older torch did not save).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["GROUP_KEY_DEFAULTS", "STEP_DTYPE", "backfill_group_keys", "check_param_states", "new_state", "step_tensor"]

# The step counter is float64: exact up to 2**53 steps, where torch's float32 counter stops
# at 2**24 and freezes the lr_decay schedule (spec R2, divergence D2).
STEP_DTYPE = torch.float64

#: Group keys torch 2.x added over time, with the value a group saved before them gets (as
#: torch's own ``Adagrad.__setstate__`` backfills them): ``foreach`` and ``maximize`` (1.12),
#: ``differentiable`` (1.13), ``fused`` (2.4).
GROUP_KEY_DEFAULTS: dict[str, Any] = {"foreach": None, "maximize": False, "differentiable": False, "fused": None}


def new_state(p: Tensor, group: dict[str, Any]) -> dict[str, Tensor]:
    """A fresh state: step 0 and a sum filled with the group's τ (spec R13)."""
    tau = group["initial_accumulator_value"]
    # Complex parameters: real and imaginary parts each start at τ (spec R11).
    fill = complex(tau, tau) if torch.is_complex(p) else tau
    return {
        "step": step_tensor(torch.zeros((), dtype=STEP_DTYPE), p, group),
        "sum": torch.full_like(p, fill, memory_format=torch.preserve_format),
    }


def step_tensor(step: Any, p: Tensor, group: dict[str, Any]) -> Tensor:
    """A step counter as the optimizer keeps it: float64, on p's device for fused groups."""
    device = p.device if group.get("fused") else torch.device("cpu")
    if isinstance(step, Tensor):
        return step.detach().to(device=device, dtype=STEP_DTYPE)
    return torch.tensor(float(step), dtype=STEP_DTYPE, device=device)


def backfill_group_keys(groups: list[dict[str, Any]]) -> None:
    """Gives every group (and the defaults, passed as one more group) the keys older torch
    versions did not save, with torch's values for them (:data:`GROUP_KEY_DEFAULTS`)."""
    for group in groups:
        for key, value in GROUP_KEY_DEFAULTS.items():
            group.setdefault(key, value)


def check_param_states(states: Any, param_groups: list[dict[str, Any]]) -> None:
    """Raises KeyError, naming the parameter, for a non-empty state without ``step`` or ``sum``
    (torch raises KeyError too, at load or at the first step; silently starting that parameter
    afresh would lose its other entry)."""
    index = 0
    for group in param_groups:
        for p in group["params"]:
            p_state = states.get(p) if hasattr(states, "get") else None
            if p_state:
                for key in ("step", "sum"):
                    if key not in p_state:
                        raise KeyError(
                            f"the state of parameter {index} has no {key!r} (keys: {sorted(map(str, p_state))}); "
                            "an Adagrad state needs both 'step' and 'sum'"
                        )
            index += 1
