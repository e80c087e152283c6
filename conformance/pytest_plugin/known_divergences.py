"""Known divergences: failures a named target is known to have, each with the failure expected.

Format (TOML; ``known_divergences.toml`` is the packaged file, for torch's documented departures
from the spec; ``--xfails FILE`` adds a user's file in the same format)::

    [[divergence]]
    id = "D1"
    reason = "torch ignores a group's own initial_accumulator_value (spec R13)"
    targets = ["torch.optim:Adagrad"]        # exact target specs; a user's file may leave it out
    torch = ">=2.0"                          # optional: torch versions it applies to (PEP 440)
    tests = ["test_groups.py::test_per_group_initial_accumulator_value"]
    expect = "numerics"                      # or "raises", with exception = "TypeError", match = "regex"

An entry applies only to its targets and torch versions. A test it lists that fails the expected
way is *xfailed*; failing any other way is a failure; passing is *xpassed* (``--strict`` makes it
a failure). Test ids are exact: ``module.py::test[params]``, or ``module.py::test`` for all its
parametrizations. Globs are refused.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_FILE", "Divergence", "Divergences", "DivergenceFileError", "load_divergences"]

DEFAULT_FILE = Path(__file__).with_name("known_divergences.toml")
_ID = re.compile(r"^[\w./-]+\.py::\w+(\[[^\]]+\])?$")


class DivergenceFileError(ValueError):
    """A divergences file that cannot be used (one line saying where and why)."""


@dataclass(frozen=True)
class Divergence:
    """One entry of a divergences file."""

    id: str
    reason: str
    tests: tuple[str, ...]
    expect: str
    targets: tuple[str, ...] | None = None
    torch: str | None = None
    exception: str | None = None
    match: str | None = None

    def covers(self, test_id: str) -> bool:
        return any(t == test_id or test_id.startswith(t + "[") for t in self.tests)

    def applies(self, target: str, torch_version: str | None) -> bool:
        if self.targets is not None and target not in self.targets:
            return False
        if self.torch and torch_version:
            from packaging.specifiers import SpecifierSet
            from packaging.version import Version

            return Version(Version(torch_version).base_version) in SpecifierSet(self.torch)
        return True

    def expects(self, exc: BaseException) -> bool:
        """Is ``exc`` the failure this entry describes?"""
        if self.expect == "numerics":
            from adagrad.conformance.engine.harness import ConformanceFailure

            return isinstance(exc, ConformanceFailure)
        names = {c.__name__ for c in type(exc).__mro__}
        return self.exception in names and re.search(self.match or "", str(exc)) is not None

    def describe_expectation(self) -> str:
        if self.expect == "numerics":
            return "results outside the error model"
        return f"{self.exception} matching {self.match!r}"


@dataclass(frozen=True)
class Divergences:
    entries: tuple[Divergence, ...]

    def match(self, test_id: str) -> Divergence | None:
        return next((e for e in self.entries if e.covers(test_id)), None)

    def matches(self, test_id: str) -> list[Divergence]:
        """Every entry listing the test (a failure is accepted if any of them expects it)."""
        return [e for e in self.entries if e.covers(test_id)]

    def for_target(self, target: str, torch_version: str | None) -> Divergences:
        return Divergences(tuple(e for e in self.entries if e.applies(target, torch_version)))

    def stale(self, test_ids: list[str]) -> list[Divergence]:
        """Entries with a listed test that matches no collected test."""
        return [
            e for e in self.entries if any(not any(t == i or i.startswith(t + "[") for i in test_ids) for t in e.tests)
        ]

    def __add__(self, other: Divergences) -> Divergences:
        return Divergences(self.entries + other.entries)


def _entry(path: Path, n: int, raw: dict[str, Any], user_file: bool) -> Divergence:
    where = f"{path}: divergence #{n}"
    known = {"id", "reason", "targets", "torch", "tests", "expect", "exception", "match"}
    extra = set(raw) - known
    if extra:
        raise DivergenceFileError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
    for key in ("id", "reason", "tests", "expect"):
        if key not in raw:
            raise DivergenceFileError(f"{where}: missing {key!r}")
    tests = raw["tests"]
    if not isinstance(tests, list) or not tests or not all(isinstance(t, str) for t in tests):
        raise DivergenceFileError(f"{where}: 'tests' must be a non-empty list of test ids")
    for t in tests:
        if any(c in t for c in "*?") or not _ID.match(t):
            raise DivergenceFileError(
                f"{where}: {t!r} is not an exact test id (module.py::test or "
                "module.py::test[params]); globs are refused"
            )
    if raw["expect"] not in ("numerics", "raises"):
        raise DivergenceFileError(f"{where}: expect must be 'numerics' or 'raises', got {raw['expect']!r}")
    if raw["expect"] == "raises" and not raw.get("exception"):
        raise DivergenceFileError(f"{where}: expect = 'raises' needs 'exception' (a class name)")
    if raw.get("match") is not None:
        try:
            re.compile(raw["match"])
        except re.error as exc:
            raise DivergenceFileError(f"{where}: match is not a regular expression: {exc}") from None
    if raw.get("torch"):
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            SpecifierSet(raw["torch"])
        except InvalidSpecifier:
            raise DivergenceFileError(f"{where}: torch = {raw['torch']!r} is not a version specifier") from None
    targets = raw.get("targets")
    if targets is None and not user_file:
        raise DivergenceFileError(f"{where}: the packaged file must name its targets")
    return Divergence(
        id=str(raw["id"]),
        reason=str(raw["reason"]),
        tests=tuple(tests),
        expect=raw["expect"],
        targets=None if targets is None else tuple(targets),
        torch=raw.get("torch"),
        exception=raw.get("exception"),
        match=raw.get("match"),
    )


def load_divergences(path: Path, *, user_file: bool = True) -> Divergences:
    """Parse a file; any problem raises :class:`DivergenceFileError` naming the file and entry."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise DivergenceFileError(f"cannot read known-divergences file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DivergenceFileError(f"{path} is not TOML ({exc}); see the format in docs/protocols.md") from None
    extra = set(data) - {"divergence"}
    if extra:
        raise DivergenceFileError(
            f"{path}: unknown top-level key(s) {', '.join(sorted(extra))} (expected [[divergence]] tables)"
        )
    entries = data.get("divergence", [])
    return Divergences(tuple(_entry(path, n, raw, user_file) for n, raw in enumerate(entries, start=1)))
