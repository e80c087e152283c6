"""Helpers shared by the library adapters: refusing what a library cannot express."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adagrad.conformance.adapters.base import CLAIMABLE, Unsupported

__all__ = ["NUMERIC_FEATURES", "refuse"]

#: What every library adapter claims: the rest of CLAIMABLE only where the library has it
#: (missing gradients and lr edits between steps need a stateful API some libraries lack).
NUMERIC_FEATURES = CLAIMABLE - {"missing-grads", "lr-schedule"}


def refuse(hyper: Mapping[str, Any], library: str, **why: str) -> None:
    """Raise :class:`Unsupported` if a hyperparameter in ``why`` is set (nonzero / True).

    ``why`` maps a hyperparameter name to what the library lacks, e.g.
    ``refuse(h, "optax.adagrad", weight_decay="no weight decay")``.
    """
    for key, reason in why.items():
        if hyper.get(key):
            raise Unsupported(f"{key}={hyper[key]!r}: {library} has {reason}")
