"""The catalogue of known semantic variants of Adagrad, in the order the diagnosis tries them.

Each entry (:class:`~.variant.Variant`) says what it changes and the rules it breaks. ``libraries``
lists where the variant was measured by a script outside the suite (``docs/diagnosis.md``
gives the commands); ``reported`` lists where issue 14 says it was measured, not re-measured
here. Order matters: the diagnosis tries variants in this order (cheap and exact first) and,
between equally good explanations, names the earlier one. The entries live in
:mod:`.variants_update`, :mod:`.variants_precision` and :mod:`.variants_fitted`.
"""

from __future__ import annotations

from typing import Any

from adagrad.conformance.diagnosis.semantics import Semantics
from adagrad.conformance.diagnosis.variant import Variant
from adagrad.conformance.diagnosis.variants_fitted import FITTED
from adagrad.conformance.diagnosis.variants_precision import MODIFIERS, NARROWER
from adagrad.conformance.diagnosis.variants_update import UPDATE

__all__ = ["CATALOGUE", "semantics_of", "variant"]

CATALOGUE: tuple[Variant, ...] = (*UPDATE, *MODIFIERS, *FITTED, *NARROWER)

_BY_NAME = {v.name: v for v in CATALOGUE}


def variant(name: str) -> Variant:
    """The catalogue entry called ``name``; ``KeyError`` naming the known ones otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown variant {name!r}; known: {', '.join(_BY_NAME)}") from None


def semantics_of(*names: str, **values: Any) -> Semantics:
    """The semantics of one or more variants together; ``values`` sets fitted parameters by variant name.

    Example: ``semantics_of("eps-inside-sqrt", "hidden-eps", **{"hidden-eps": 1e-6})``.
    """
    sem = Semantics()
    for name in names:
        sem = variant(name).semantics(sem, values.get(name))
    return sem
