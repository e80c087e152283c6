"""Helpers shared by the library adapters: what they claim, and refusing what a library cannot
express (declared once per adapter, in :attr:`LibraryAdagrad.lacks`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from adagrad.conformance.adapters.base import CLAIMABLE, Unsupported

__all__ = ["NUMERIC_FEATURES", "LibraryAdagrad", "refuse"]

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


class LibraryAdagrad:
    """Base of a library adapter: the hyperparameters its library lacks, declared once."""

    #: The library's Adagrad, as a refusal names it.
    library: ClassVar[str] = ""
    #: Hyperparameter name -> what the library lacks (see :func:`refuse`).
    lacks: ClassVar[Mapping[str, str]] = {}

    def refuse_lacking(self, hyperparameters: Mapping[str, Any]) -> None:
        """Raise :class:`Unsupported` if ``hyperparameters`` set one the library lacks."""
        refuse(hyperparameters, self.library, **self.lacks)
