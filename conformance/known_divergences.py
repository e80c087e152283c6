"""Expected-failure files: one feature name or test id per line, then its reason.

Format (``known_divergences.txt`` is the packaged default, for torch's documented departures
from the spec)::

    # comment
    test_groups.py::test_per_group_initial_accumulator_value  torch ignores a per-group tau (spec D1)
    sparse  this library has no sparse gradients
    test_layouts.py::test_layout[*-fused]  a glob (``*``) matches several parametrizations

A test that matches an entry may fail (reported as an accepted divergence, with the reason);
an entry that matches no test is warned about (stale).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_FILE", "Divergence", "Divergences", "load_divergences"]

DEFAULT_FILE = Path(__file__).with_name("known_divergences.txt")


@dataclass(frozen=True)
class Divergence:
    """One entry: a feature name, a test id (``module.py::test[params]``; no params = all), or a glob."""

    pattern: str
    reason: str

    def matches(self, feature: str, test_id: str) -> bool:
        return (
            self.pattern in (feature, test_id)
            or test_id.startswith(self.pattern + "[")
            or ("*" in self.pattern and re.fullmatch(re.escape(self.pattern).replace(r"\*", ".*"), test_id) is not None)
        )


@dataclass(frozen=True)
class Divergences:
    entries: tuple[Divergence, ...]

    def match(self, feature: str, test_id: str) -> Divergence | None:
        return next((e for e in self.entries if e.matches(feature, test_id)), None)

    def stale(self, features: set[str], test_ids: list[str]) -> list[Divergence]:
        """Entries that match none of the given tests."""
        return [e for e in self.entries if e.pattern not in features and not any(e.matches("", t) for t in test_ids)]


def load_divergences(path: Path) -> Divergences:
    """Parse a file; a line without a reason raises ``ValueError`` naming the file and line."""
    entries = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, _, reason = line.partition(" ")
        if not reason.strip():
            raise ValueError(f"{path}:{number}: entry {pattern!r} has no reason (write one after the id)")
        entries.append(Divergence(pattern, reason.strip()))
    return Divergences(tuple(entries))
