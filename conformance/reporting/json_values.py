"""The report's strict JSON conventions: non-finite numbers as strings, required keys, objects key by key.

JSON has no NaN or infinity: the report writes non-finite numbers as the strings ``"nan"``,
``"inf"``, ``"-inf"`` (:func:`num_out`) and reads them back as floats (:func:`num_in`).
:func:`take` checks that an object has the keys a dataclass of :mod:`.model` needs, and
:class:`JsonObject` writes such a dataclass as its JSON object.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

__all__ = ["JsonObject", "num_in", "num_out", "take"]

_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def num_in(value: Any) -> float | None:
    """A number of the JSON report as a float (``"nan"``/``"inf"``/``"-inf"`` included)."""
    if value is None:
        return None
    if isinstance(value, str):
        if value not in _NONFINITE:
            raise ValueError(f"not a number: {value!r} (non-finite values are 'nan', 'inf' or '-inf')")
        return _NONFINITE[value]
    return float(value) if not isinstance(value, int) else value


def num_out(value: float | None) -> float | str | None:
    """A number for the JSON report: a non-finite float as ``"nan"``, ``"inf"`` or ``"-inf"``."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def take(data: dict[str, Any], cls_name: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """The keys a dataclass needs, with an error naming the one that is missing or unknown."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls_name}: expected an object, got {type(data).__name__}")
    missing = [k for k in keys if k not in data]
    if missing:
        raise ValueError(f"{cls_name}: missing key(s) {', '.join(missing)}")
    return data


class JsonObject:
    """A dataclass of the report, written as its JSON object by :meth:`to_json`.

    A subclass names its keys in order (``_KEYS``) and the keys whose numbers may be non-finite
    (``_NUMBERS``, written by :func:`num_out`).
    """

    _KEYS: ClassVar[tuple[str, ...]] = ()
    _NUMBERS: ClassVar[tuple[str, ...]] = ()

    def to_json(self) -> dict[str, Any]:
        """The JSON object: every key, lists copied, nested objects (and those in lists) by their ``to_json``."""
        out = {}
        for key in self._KEYS:
            value = getattr(self, key)
            if key in self._NUMBERS:
                value = num_out(value)
            elif isinstance(value, list):
                value = [v.to_json() if hasattr(v, "to_json") else v for v in value]
            elif hasattr(value, "to_json"):
                value = value.to_json()
            out[key] = value
        return out
