"""Helpers shared by the library adapters: refusing what a library cannot express."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adagrad.conformance.adapters.base import Unsupported

__all__ = ["NUMERIC_FEATURES", "refuse"]

#: What every library adapter claims: the rest of CLAIMABLE only where the library has it.
NUMERIC_FEATURES = frozenset(
    {
        "numerics-float64",
        "numerics-float32",
        "numerics-float16",
        "numerics-bfloat16",
        "hyperparameters",
        "golden",
        "non-finite",
        "shapes",
    }
)


def refuse(hyper: Mapping[str, Any], library: str, **why: str) -> None:
    """Raise :class:`Unsupported` if a hyperparameter in ``why`` is set (nonzero / True).

    ``why`` maps a hyperparameter name to what the library lacks, e.g.
    ``refuse(h, "optax.adagrad", weight_decay="no weight decay")``.
    """
    for key, reason in why.items():
        if hyper.get(key):
            raise Unsupported(f"{key}={hyper[key]!r}: {library} has {reason}")
