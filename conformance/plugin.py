"""The pytest plugin (entry point ``pytest11``): options, the ``target`` fixture, features, report.

``pytest --pyargs adagrad.conformance --adagrad-target module:attr`` runs the suite on a target
from any directory. Options:

- ``--adagrad-target``: the target (default ``torch.optim:Adagrad``).
- ``--adagrad-profile``: hypothesis profile ``quick``, ``ci`` (default) or ``thorough``.
- ``--adagrad-exclude FEATURE``: a feature the target does not claim (repeatable).
- ``--adagrad-xfails FILE``: known divergences (default: the packaged ``known_divergences.txt``).
- ``--adagrad-report FILE``: write the JSON report there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from . import profiles
from .features import FEATURES
from .report import CRASHED
from .known_divergences import DEFAULT_FILE, Divergences, load_divergences
from .target import DEFAULT_TARGET, TargetError, load_target

_STATE_KEY = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("adagrad-conformance")
    group.addoption("--adagrad-target", default=DEFAULT_TARGET, help="module:attr of the Adagrad to check")
    group.addoption("--adagrad-profile", default="ci", choices=sorted(profiles.PROFILES), help="hypothesis profile")
    group.addoption("--adagrad-exclude", action="append", default=[], metavar="FEATURE", help="exclude a feature")
    group.addoption("--adagrad-xfails", default=str(DEFAULT_FILE), metavar="FILE", help="known divergences file")
    group.addoption("--adagrad-report", default=None, metavar="FILE", help="write a JSON report")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "feature(name): the conformance feature a test belongs to")
    profiles.load(config.getoption("--adagrad-profile"))
    unknown = [f for f in config.getoption("--adagrad-exclude") if f not in FEATURES]
    if unknown:
        raise pytest.UsageError(f"unknown feature(s) to exclude: {', '.join(unknown)}; known: {', '.join(FEATURES)}")
    try:
        divergences = load_divergences(Path(config.getoption("--adagrad-xfails")))
    except (OSError, ValueError) as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_STATE_KEY] = {"results": [], "divergences": divergences}
    config.pluginmanager.register(_ResultCollector(config.stash[_STATE_KEY]), "adagrad-conformance-results")


def _state(config: pytest.Config) -> dict[str, Any]:
    return config.stash[_STATE_KEY]


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config):
    """The :class:`~adagrad.conformance.target.Target` under test."""
    try:
        return load_target(pytestconfig.getoption("--adagrad-target"))
    except TargetError as exc:
        pytest.exit(f"adagrad-conformance: {exc}", returncode=4)


@pytest.fixture
def record_ulps(request: pytest.FixtureRequest):
    """A function recording the worst error (in ulps) a test measured, for the report."""

    def record(value: float) -> None:
        request.node.user_properties.append(("ulps", float(value)))

    return record


def _feature(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("feature")
    return marker.args[0] if marker else None


def test_id(nodeid: str) -> str:
    """The id used in reports and divergence files: the part after ``features/``."""
    return nodeid.rsplit("features/", 1)[-1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    excluded = set(config.getoption("--adagrad-exclude"))
    divergences: Divergences = _state(config)["divergences"]
    for item in items:
        feature = _feature(item)
        if feature is None:
            continue
        if feature not in FEATURES:
            raise pytest.UsageError(f"{item.nodeid}: feature {feature!r} is not registered in FEATURES")
        item.user_properties.append(("feature", feature))
        if feature in excluded:
            item.add_marker(pytest.mark.skip(reason=f"excluded: feature {feature} not claimed by the target"))
            continue
        entry = divergences.match(feature, test_id(item.nodeid))
        if entry is not None:
            item.user_properties.append(("divergence", entry.pattern))
            item.add_marker(pytest.mark.xfail(reason=f"known divergence: {entry.reason}", strict=False))


class _ResultCollector:
    """Collects one result per conformance test (on the xdist controller too)."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "feature" not in props:
            if "features/" not in report.nodeid or report.outcome != "failed":
                return
            props["feature"] = CRASHED  # xdist's report for a crashed worker carries no properties
        if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
            return
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.outcome == "skipped" else "xpassed"
        elif report.outcome == "skipped":
            outcome = "excluded"
        else:
            outcome = report.outcome
        ulps = [v for k, v in report.user_properties if k == "ulps"]
        self.state["results"].append(
            {
                "id": test_id(report.nodeid),
                "feature": props["feature"],
                "outcome": outcome,
                "worst_ulps": max(ulps) if ulps else None,
                "divergence": props.get("divergence"),
                "message": report.longreprtext[-6000:] if outcome == "failed" else "",
                "duration": report.duration,
            }
        )


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"adagrad-conformance: target {config.getoption('--adagrad-target')}, "
        f"profile {config.getoption('--adagrad-profile')}, "
        f"excluded: {', '.join(config.getoption('--adagrad-exclude')) or 'none'}, "
        f"known divergences: {config.getoption('--adagrad-xfails')}"
    ]


def build_report(config: pytest.Config) -> dict[str, Any]:
    """The JSON report: configuration, per-test results, per-feature summary, divergences."""
    state = _state(config)
    results = state["results"]
    ids = [r["id"] for r in results]
    features = {r["feature"] for r in results}
    divergences: Divergences = state["divergences"]
    return {
        "target": config.getoption("--adagrad-target"),
        "profile": config.getoption("--adagrad-profile"),
        "excluded": sorted(set(config.getoption("--adagrad-exclude"))),
        "results": results,
        "known_divergences": [
            {"pattern": e.pattern, "reason": e.reason, "used_by": [r["id"] for r in results if r["divergence"] == e.pattern]}
            for e in divergences.entries
        ],
        "stale_divergences": [e.pattern for e in divergences.stale(features, ids)],
    }


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or _STATE_KEY not in config.stash:
        return
    report = build_report(config)
    accepted = [d for d in report["known_divergences"] if any(
        r["outcome"] == "xfailed" for r in report["results"] if r["id"] in d["used_by"])]
    if accepted:
        terminalreporter.section("known divergences accepted")
        for d in accepted:
            terminalreporter.write_line(f"{d['pattern']}: {d['reason']}")
    for pattern in report["stale_divergences"]:
        terminalreporter.write_line(f"warning: known-divergence entry {pattern!r} matches no test", yellow=True)
    path = config.getoption("--adagrad-report")
    if path:
        Path(path).write_text(json.dumps(report, indent=1, sort_keys=True))

