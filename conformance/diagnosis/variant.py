"""What a catalogue entry is: a named set of switches on the semantics, and a parameter to fit.

A :class:`Variant` is a small, documented change of the spec's update (a set of switches on
:class:`~.semantics.Semantics`). Some carry a continuous (or discrete) parameter that the
diagnosis fits to the target (:class:`Fit`), e.g. the value of a hidden eps.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from adagrad.conformance.diagnosis.semantics import Semantics

__all__ = ["Fit", "Variant"]


@dataclass(frozen=True)
class Fit:
    """A variant's parameter: the :class:`Semantics` field it sets and how to find its value.

    ``grid``: ``"log"`` (positive, over ``lo..hi`` decades), ``"linear"`` (``lo..hi``) or
    ``"choices"`` (try each of ``choices``). ``observe``: which first-step value pins it
    (``"param"`` or ``"sum"``). ``default``: the value used when the variant plays the target.
    """

    field: str
    default: Any
    grid: str
    lo: float = 0.0
    hi: float = 1.0
    observe: str = "param"
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Variant:
    """A named departure from the spec: ``knobs`` set on :class:`Semantics`, rules it breaks."""

    name: str
    label: str
    changes: str
    rules: tuple[str, ...]
    knobs: dict[str, Any] = field(default_factory=dict)
    fit: Fit | None = None
    #: what part of the update it touches: two variants touching the same part do not combine.
    part: str = ""
    libraries: tuple[str, ...] = ()
    reported: tuple[str, ...] = ()
    #: 0: compared under the case's own error model; 1: under a looser one (a narrower dtype's,
    #: or a decayed lr bounded in float32). A looser variant is named only when no exact one explains.
    looseness: int = 0
    #: how the numbers are held rather than what is computed: tried on top of a pair of other variants.
    modifier: bool = False

    def semantics(self, base: Semantics | None = None, value: Any = None) -> Semantics:
        """``base`` (default: R1) with this variant's switches; ``value`` for a fitted parameter."""
        sem = replace(base or Semantics(), **self.knobs)
        if self.fit is not None:
            sem = replace(sem, **{self.fit.field: self.fit.default if value is None else value})
        return sem
