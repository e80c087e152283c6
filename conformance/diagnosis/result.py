"""What the search found: :class:`Diagnosis` and its :class:`Explanation` s, as text and as JSON."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adagrad.conformance.diagnosis.catalogue import variant

__all__ = ["Diagnosis", "Explanation"]


@dataclass
class Explanation:
    """A variant, or two together, and how many failures it puts within the error model.

    Attributes:
        variants: catalogue names, e.g. ``["eps-inside-sqrt", "decoupled-weight-decay"]``.
        labels: their labels, e.g. ``["eps inside the square root", "decoupled weight decay"]``.
        rules: the spec rules they break.
        fitted: the fitted parameter of a variant that has one, by variant name.
        explained: failures within the error model under this explanation.
        failures: failures replayed.
        worst_ratio: largest |target - variant| / tolerance over the explained failures (0: the
            target computes exactly this variant's values).
    """

    variants: list[str]
    labels: list[str]
    rules: list[str]
    fitted: dict[str, Any]
    explained: int
    failures: int
    worst_ratio: float

    @property
    def label(self) -> str:
        """The labels joined by " + "."""
        return " + ".join(self.labels)

    @property
    def complete(self) -> bool:
        """Every failure is explained."""
        return self.explained == self.failures

    def describe(self) -> str:
        """One line: labels, count, rules, fitted values."""
        fitted = "".join(
            f"; {variant(n).fit.field if variant(n).fit else n} = {_show(v)}" for n, v in self.fitted.items()
        )
        return (
            f"{self.label}: {self.explained} of {self.failures} failures within the error model "
            f"(breaks {', '.join(self.rules)}{fitted})"
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data."""
        ratio = self.worst_ratio if math.isfinite(self.worst_ratio) else None
        return {
            "variants": list(self.variants),
            "labels": list(self.labels),
            "rules": list(self.rules),
            "fitted": {k: _plain(v) for k, v in self.fitted.items()},
            "explained": self.explained,
            "failures": self.failures,
            "worst_ratio": ratio,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Explanation:
        """Inverse of :meth:`to_json`."""
        ratio = data.get("worst_ratio")
        return cls(
            list(data["variants"]),
            list(data["labels"]),
            list(data["rules"]),
            dict(data["fitted"]),
            int(data["explained"]),
            int(data["failures"]),
            float("inf") if ratio is None else float(ratio),
        )


def _plain(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        return float(v)
    return v


def _show(v: Any) -> str:
    """Six significant digits, or as many as it takes to tell the value from its six-digit form
    (a fitted eps of float32's 0.1 is 0.100000001490116, not 0.1)."""
    if not isinstance(v, float):
        return str(v)
    return f"{v:.6g}" if float(f"{v:.6g}") == v else f"{v:.15g}"


@dataclass
class Diagnosis:
    """What the search found. :meth:`summary` is the text every renderer shows.

    Attributes:
        records: records given.
        replayed: records replayed, smallest first, until ``max_records`` failures were found.
        failures: replayed records outside the spec's error model (the numerical failures).
        explained_by: complete explanations, best first (simplest, then tightest, then
            catalogue order); empty when none was found.
        partial: explanations of some failures, most first.
        pairs_tried, pairs_total: combinations of variants tried, and worth trying (0 when a
            single variant explains everything): pairs, then the most promising pairs with a
            modifier (:attr:`Variant.modifier`) on top.
        complete: False when the time budget stopped the search.
        seconds: time the search took.
        notes: records left out and why.
        set_aside: records left out before replaying (no trajectory, a state_dict handover).
    """

    records: int
    replayed: int
    failures: int
    explained_by: list[Explanation] = field(default_factory=list)
    partial: list[Explanation] = field(default_factory=list)
    pairs_tried: int = 0
    pairs_total: int = 0
    complete: bool = True
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    set_aside: int = 0

    @property
    def explanation(self) -> Explanation | None:
        """The best complete explanation, or None."""
        return self.explained_by[0] if self.explained_by else None

    def summary(self) -> str:
        """The diagnosis as text, first line the answer."""
        if self.failures == 0 and not self.complete:
            lines = [f"diagnosis: not done: the time budget ran out after {self.replayed} of {self.records} records"]
            return "\n".join(lines + [f"  note: {n}" for n in self.notes])
        if self.failures == 0:
            lines = ["diagnosis: nothing to explain: every replayed record is within the spec's error model"]
            return "\n".join(lines + [f"  note: {n}" for n in self.notes])
        if self.explained_by:
            lines = [f"explained by: {self.explained_by[0].describe()}"]
            lines += [f"  also consistent with: {e.describe()}" for e in self.explained_by[1:]]
        else:
            lines = ["no known variant explains these failures"]
        lines += [f"  partly explained by: {e.describe()}" for e in self.partial]
        scope = f"  {self.failures} numerical failure(s) replayed"
        left = self.records - self.set_aside - self.replayed
        if left > 0:
            scope += f" (the smallest; {left} larger record(s) not replayed)"
        lines.append(scope + f"; {self.seconds:.1f} s")
        if not self.complete:
            lines.append(
                f"  the search stopped at its time budget (combinations of variants tried: {self.pairs_tried} of {self.pairs_total})"
            )
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (the report's ``"diagnosis"``); ``summary`` included for readers."""
        return {
            "records": self.records,
            "replayed": self.replayed,
            "failures": self.failures,
            "explained_by": [e.to_json() for e in self.explained_by],
            "partial": [e.to_json() for e in self.partial],
            "pairs_tried": self.pairs_tried,
            "pairs_total": self.pairs_total,
            "complete": self.complete,
            "seconds": round(self.seconds, 3),
            "notes": list(self.notes),
            "set_aside": self.set_aside,
            "summary": self.summary(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Diagnosis:
        """Inverse of :meth:`to_json` (``summary`` is recomputed)."""
        return cls(
            records=int(data["records"]),
            replayed=int(data["replayed"]),
            failures=int(data["failures"]),
            explained_by=[Explanation.from_json(e) for e in data["explained_by"]],
            partial=[Explanation.from_json(e) for e in data["partial"]],
            pairs_tried=int(data["pairs_tried"]),
            pairs_total=int(data["pairs_total"]),
            complete=bool(data["complete"]),
            seconds=float(data["seconds"]),
            notes=list(data["notes"]),
            set_aside=int(data.get("set_aside", 0)),
        )
