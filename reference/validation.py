"""Constructor validation with torch's exception types and messages (spec R24)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["HYPERPARAMETERS", "validate_hyperparameters"]

#: The hyperparameters a group carries, in torch's order.
HYPERPARAMETERS = ("lr", "lr_decay", "eps", "weight_decay", "initial_accumulator_value", "maximize")

_MESSAGES = {
    "lr": "Invalid learning rate: {}",
    "lr_decay": "Invalid lr_decay value: {}",
    "weight_decay": "Invalid weight_decay value: {}",
    "initial_accumulator_value": "Invalid initial_accumulator_value value: {}",
    "eps": "Invalid epsilon value: {}",
}


def validate_hyperparameters(**hyper: Any) -> dict[str, Any]:
    """Check the constructor's hyperparameters; return them as the defaults dict.

    Each non-negative value is checked with ``not 0.0 <= value``, so NaN is rejected and inf is
    accepted, exactly as torch does. A non-scalar ``lr`` raises ``Tensor lr must be 1-element``.
    """
    lr = hyper["lr"]
    if isinstance(lr, np.ndarray) and lr.size != 1:
        raise ValueError("Tensor lr must be 1-element")
    for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
        value = hyper[name]
        scalar = float(np.asarray(value).reshape(())) if isinstance(value, np.ndarray) else value
        if not 0.0 <= scalar:
            raise ValueError(_MESSAGES[name].format(value))
    return {name: hyper[name] for name in HYPERPARAMETERS}
