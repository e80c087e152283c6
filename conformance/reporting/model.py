"""The typed report of a check (``schema_version`` 2): one dataclass per object of the JSON report.

The runner builds the report as a plain dict; :meth:`Report.from_json` reads it (or a report file)
into these dataclasses and :meth:`Report.to_json` writes it back unchanged, in strict JSON
(:mod:`.json_values`: non-finite numbers as the strings ``"nan"``, ``"inf"``, ``"-inf"``);
:func:`dumps` writes the JSON text. :mod:`.schema` checks a report against ``report.schema.json``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from adagrad.conformance.reporting.json_values import JsonObject, num_in, take

__all__ = [
    "FAILING",
    "OUTCOMES",
    "PATHS",
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "VERDICTS",
    "Divergence",
    "Environment",
    "Failure",
    "Report",
    "Result",
    "Run",
    "StepSeries",
    "as_report",
    "dumps",
    "failure_record",
]

SCHEMA_VERSION = 2

#: Every outcome a planned test can have, in the order the reports list them.
OUTCOMES = (
    "passed", "failed", "xfailed", "xpassed", "unsupported", "not-claimed", "excluded",
    "skipped-unexpectedly", "crashed", "timed-out", "not-run",
)  # fmt: skip
#: Outcomes that make a run non-conformant whatever else happened.
FAILING = ("failed", "crashed", "timed-out", "skipped-unexpectedly")
#: The paths a torch optimizer can take; ``None`` in a result: the target's default.
PATHS = ("for-loop", "foreach", "fused")
RUN_STATUSES = ("complete", "stopped-early", "interrupted", "infrastructure-error")
VERDICTS = ("conformant", "non-conformant", "not-verified", "interrupted")


@dataclass
class Environment(JsonObject):
    """Versions of what ran the check, and the command line of the pytest run."""

    python: str
    torch: str | None
    pytest: str
    hypothesis: str
    plugins: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)

    _KEYS = ("python", "torch", "pytest", "hypothesis", "plugins", "command")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Environment:
        """Read the ``environment`` object."""
        d = take(data, "environment", cls._KEYS)
        return cls(d["python"], d["torch"], d["pytest"], d["hypothesis"], list(d["plugins"]), list(d["command"]))


@dataclass
class Failure(JsonObject):
    """Where a failed test went wrong: the statement (shown first, never cut) and its parts."""

    statement: str
    step: int | None = None
    tensor: str | None = None
    tensor_index: int | None = None
    index: list[int] | None = None
    target: float | None = None
    oracle: float | None = None
    ulps: float | None = None
    tolerance_ulps: float | None = None
    snippet: str | None = None

    _KEYS = (
        "statement", "step", "tensor", "tensor_index", "index", "target", "oracle", "ulps", "tolerance_ulps",
        "snippet",
    )  # fmt: skip
    _NUMBERS = ("target", "oracle", "ulps", "tolerance_ulps")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Failure:
        """Read a result's ``failure`` object."""
        d = take(data, "failure", cls._KEYS)
        return cls(
            d["statement"],
            d["step"],
            d["tensor"],
            d["tensor_index"],
            None if d["index"] is None else list(d["index"]),
            num_in(d["target"]),
            num_in(d["oracle"]),
            num_in(d["ulps"]),
            num_in(d["tolerance_ulps"]),
            d["snippet"],
        )


@dataclass
class StepSeries:
    """The worst error after each step (index 0 is step 1), in ulps of ``dtype``; None: non-finite."""

    dtype: str
    errors: list[float | None]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepSeries:
        """Read one entry of ``step_ulps``."""
        d = take(data, "step_ulps entry", ("dtype", "errors"))
        return cls(d["dtype"], [num_in(e) for e in d["errors"]])

    def to_json(self) -> dict[str, Any]:
        """One entry of ``step_ulps``."""
        return {"dtype": self.dtype, "errors": [e if e is None or math.isfinite(e) else None for e in self.errors]}


@dataclass
class Result(JsonObject):
    """One planned test and what happened to it."""

    id: str
    feature: str
    outcome: str
    path: str | None = None
    worst_ulps: float | None = None
    tolerance_ulps: float | None = None
    case_size: int | None = None
    duration: float = 0.0
    step_ulps: list[StepSeries] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    divergence: str | None = None
    message: str = ""
    failure: Failure | None = None

    _KEYS = (
        "id", "feature", "path", "outcome", "worst_ulps", "tolerance_ulps", "case_size", "duration",
        "step_ulps", "unsupported", "divergence", "message", "failure",
    )  # fmt: skip
    _NUMBERS = ("worst_ulps", "tolerance_ulps")

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"result {self.id}: unknown outcome {self.outcome!r} (one of {', '.join(OUTCOMES)})")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        """Read one entry of ``results``."""
        d = take(data, f"result {data.get('id', '?') if isinstance(data, dict) else '?'}", cls._KEYS)
        return cls(
            d["id"],
            d["feature"],
            d["outcome"],
            d["path"],
            num_in(d["worst_ulps"]),
            num_in(d["tolerance_ulps"]),
            d["case_size"],
            float(d["duration"]),
            [StepSeries.from_json(s) for s in d["step_ulps"]],
            list(d["unsupported"]),
            d["divergence"],
            d["message"],
            None if d["failure"] is None else Failure.from_json(d["failure"]),
        )


@dataclass
class Run(JsonObject):
    """How the run ended: complete, stopped early, interrupted, or broken by the infrastructure."""

    status: str = "complete"
    reason: str | None = None
    timeouts: int = 0
    wall_seconds: float = 0.0

    _KEYS = ("status", "reason", "timeouts", "wall_seconds")

    def __post_init__(self) -> None:
        if self.status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {self.status!r} (one of {', '.join(RUN_STATUSES)})")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        """Read the ``run`` object."""
        d = take(data, "run", cls._KEYS)
        return cls(d["status"], d["reason"], d["timeouts"], float(d["wall_seconds"]))


@dataclass
class Divergence(JsonObject):
    """A known-divergence entry for this target, and which tests it accepted or that passed anyway."""

    id: str
    reason: str
    tests: list[str] = field(default_factory=list)
    used_by: list[str] = field(default_factory=list)
    xpassed_by: list[str] = field(default_factory=list)

    _KEYS = ("id", "reason", "tests", "used_by", "xpassed_by")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Divergence:
        """Read one entry of ``divergences``."""
        d = take(data, "divergence", cls._KEYS)
        return cls(d["id"], d["reason"], list(d["tests"]), list(d["used_by"]), list(d["xpassed_by"]))


@dataclass
class Report(JsonObject):
    """The whole report of one check (see ``report.schema.json``)."""

    target: str
    adapter: str
    description: str
    profile: str
    seed: int
    environment: Environment
    results: list[Result]
    run: Run
    strict: bool = False
    excluded: list[str] = field(default_factory=list)
    not_claimed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    divergences: list[Divergence] = field(default_factory=list)
    stale_divergences: list[str] = field(default_factory=list)
    diagnosis: dict[str, Any] | None = None
    verdict: str = "not-verified"
    schema_version: int = SCHEMA_VERSION

    _KEYS = (
        "schema_version", "target", "adapter", "description", "profile", "seed", "strict", "environment",
        "excluded", "not_claimed", "results", "run", "problems", "divergences", "stale_divergences",
        "diagnosis", "verdict",
    )  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        """Read a report dict (as the runner builds it or ``json.loads`` reads it).

        Every key is required but ``verdict``: the runner computes it from the report, so the
        dict it asks :func:`~.summary.verdict` about has none yet (``"not-verified"`` until set).
        """
        d = take(data, "report", tuple(k for k in cls._KEYS if k != "verdict"))
        if d["schema_version"] != SCHEMA_VERSION:
            raise ValueError(f"report schema_version {d['schema_version']!r}: this version reads {SCHEMA_VERSION}")
        return cls(
            target=d["target"],
            adapter=d["adapter"],
            description=d["description"],
            profile=d["profile"],
            seed=d["seed"],
            environment=Environment.from_json(d["environment"]),
            results=[Result.from_json(r) for r in d["results"]],
            run=Run.from_json(d["run"]),
            strict=d["strict"],
            excluded=list(d["excluded"]),
            not_claimed=list(d["not_claimed"]),
            problems=list(d["problems"]),
            divergences=[Divergence.from_json(x) for x in d["divergences"]],
            stale_divergences=list(d["stale_divergences"]),
            diagnosis=d["diagnosis"],
            verdict=d.get("verdict", "not-verified"),
        )


def failure_record(fields: dict[str, Any]) -> dict[str, Any]:
    """A ``failure`` object with every key: ``fields`` (a statement at least) over null defaults;
    keys that are not the model's are dropped."""
    return Failure(**{"statement": "", **{k: v for k, v in fields.items() if k in Failure._KEYS}}).to_json()


def as_report(report: Report | dict[str, Any]) -> Report:
    """A :class:`Report`, from a report dict or unchanged."""
    return report if isinstance(report, Report) else Report.from_json(report)


def dumps(report: Report | dict[str, Any]) -> str:
    """The report as JSON text (strict JSON: non-finite numbers as strings), stable key order."""
    return json.dumps(as_report(report).to_json(), indent=1, sort_keys=True, allow_nan=False) + "\n"
