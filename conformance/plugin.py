"""The pytest plugin (entry point ``pytest11``): options, the ``target`` fixture, features, report.

``pytest --pyargs adagrad.conformance --adagrad-target module:attr`` runs the suite on a target
from any directory. Options:

- ``--adagrad-target``: the target (default ``torch.optim:Adagrad``).
- ``--adagrad-profile``: hypothesis profile ``quick``, ``ci`` (default) or ``thorough``.
- ``--adagrad-exclude FEATURE``: a feature the target does not claim (repeatable).
- ``--adagrad-xfails FILE``: known divergences (default: the packaged ``known_divergences.txt``).
- ``--adagrad-report FILE``: write the JSON report there.
- ``--adagrad-adapter torch|functional``: how the target is driven (default ``torch``: it is a
  torch Optimizer; ``functional``: :mod:`adagrad.conformance.adapters.functional`).
- ``--adagrad-exec COMMAND``: drive an external program over the subprocess protocol instead
  of a target (:mod:`adagrad.conformance.adapters.subprocess_protocol`);
  ``--adagrad-exec-timeout SECONDS`` bounds each of its answers (default 10).

Features an adapted implementation does not claim are skipped as *unsupported*, and so are
cases asking for something it cannot express (a hyperparameter, a dtype): such examples are
rejected inside hypothesis, and a test none of whose examples is supported is skipped.
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
from .adapters.base import Resolved, resolve, take_unsupported

_STATE_KEY = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("adagrad-conformance")
    group.addoption("--adagrad-target", default=DEFAULT_TARGET, help="module:attr of the Adagrad to check")
    group.addoption("--adagrad-profile", default="ci", choices=sorted(profiles.PROFILES), help="hypothesis profile")
    group.addoption("--adagrad-exclude", action="append", default=[], metavar="FEATURE", help="exclude a feature")
    group.addoption("--adagrad-xfails", default=str(DEFAULT_FILE), metavar="FILE", help="known divergences file")
    group.addoption("--adagrad-report", default=None, metavar="FILE", help="write a JSON report")
    group.addoption("--adagrad-no-shrink", action="store_true", help="report the first failing example unshrunk (faster)")
    group.addoption("--adagrad-adapter", default="torch", choices=("torch", "functional"), help="how the target is driven")
    group.addoption("--adagrad-exec", default=None, metavar="COMMAND", help="check an external program (subprocess protocol)")
    group.addoption("--adagrad-exec-timeout", default=10.0, type=float, metavar="SECONDS", help="per-answer time limit of --adagrad-exec")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "feature(name): the conformance feature a test belongs to")
    config.addinivalue_line("markers", "requires(*names): other features a test needs")
    profiles.load(config.getoption("--adagrad-profile"), shrink=not config.getoption("--adagrad-no-shrink"))
    unknown = [f for f in config.getoption("--adagrad-exclude") if f not in FEATURES]
    if unknown:
        raise pytest.UsageError(f"unknown feature(s) to exclude: {', '.join(unknown)}; known: {', '.join(FEATURES)}")
    try:
        divergences = load_divergences(Path(config.getoption("--adagrad-xfails")))
    except (OSError, ValueError) as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_STATE_KEY] = {"results": [], "divergences": divergences, "resolved": None, "unsupported": []}
    if config.getoption("--adagrad-exec") or config.getoption("--adagrad-adapter") != "torch":
        # adapted implementations declare their features up front: resolve now, once per process
        try:
            resolved = resolve(config.getoption("--adagrad-target"), config.getoption("--adagrad-adapter"),
                               config.getoption("--adagrad-exec"), exec_timeout=config.getoption("--adagrad-exec-timeout"))
        except TargetError as exc:
            raise pytest.UsageError(f"adagrad-conformance: {exc}") from None
        config.stash[_STATE_KEY].update(resolved=resolved, unsupported=resolved.unsupported)
    config.pluginmanager.register(_ResultCollector(config.stash[_STATE_KEY]), "adagrad-conformance-results")


def pytest_unconfigure(config: pytest.Config) -> None:
    resolved: Resolved | None = config.stash.get(_STATE_KEY, {}).get("resolved")
    impl = getattr(getattr(resolved, "target", None), "factory", None)
    close = getattr(getattr(impl, "impl", None), "close", None)
    if close:
        close()


def _state(config: pytest.Config) -> dict[str, Any]:
    return config.stash[_STATE_KEY]


def target_name(config: pytest.Config) -> str:
    """The target as reports name it: ``module:attr`` or ``exec:COMMAND``."""
    resolved: Resolved | None = _state(config)["resolved"]
    return resolved.target.spec if resolved else config.getoption("--adagrad-target")


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config):
    """The :class:`~adagrad.conformance.target.Target` under test."""
    resolved: Resolved | None = _state(pytestconfig)["resolved"]
    if resolved is not None:
        return resolved.target
    try:
        return load_target(pytestconfig.getoption("--adagrad-target"))
    except TargetError as exc:
        pytest.exit(f"adagrad-conformance: {exc}", returncode=4)


class UlpsRecorder:
    """What ``record_ulps`` is: called with a test's worst error in ulps; it also takes the
    worst error of every step (``record_steps``), which :func:`~.harness.check_case` reports
    when its recorder has that method, for the plots of error against step."""

    #: Per test, at most this many series of at most this many steps go into the report.
    MAX_SERIES, MAX_STEPS = 12, 200

    def __init__(self, node: pytest.Item) -> None:
        self.node = node

    def __call__(self, value: float) -> None:
        self.node.user_properties.append(("ulps", float(value)))

    def record_steps(self, dtype: str, errors: list[float]) -> None:
        series = [p for p in self.node.user_properties if p[0] == "step_ulps"]
        if len(series) < self.MAX_SERIES:
            # JSON has no infinity: a non-finite error (NaN where a number was due) is None
            clean = [float(e) if e == e and abs(e) != float("inf") else None for e in errors[: self.MAX_STEPS]]
            self.node.user_properties.append(("step_ulps", {"dtype": dtype, "errors": clean}))


@pytest.fixture
def record_ulps(request: pytest.FixtureRequest) -> UlpsRecorder:
    """A function recording the worst error (in ulps) a test measured, for the report."""
    return UlpsRecorder(request.node)


def _feature(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("feature")
    return marker.args[0] if marker else None


def test_id(nodeid: str) -> str:
    """The id used in reports and divergence files: the part after ``features/``."""
    return nodeid.rsplit("features/", 1)[-1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unsupported = set(_state(config)["unsupported"])
    if unsupported:  # tests that read the option (golden) skip cases needing these features too
        config.option.adagrad_exclude = sorted(set(config.getoption("--adagrad-exclude")) | unsupported)
    excluded = set(config.getoption("--adagrad-exclude")) - unsupported
    divergences: Divergences = _state(config)["divergences"]
    resolved: Resolved | None = _state(config)["resolved"]
    for item in items:
        feature = _feature(item)
        if feature is None:
            continue
        if feature not in FEATURES:
            raise pytest.UsageError(f"{item.nodeid}: feature {feature!r} is not registered in FEATURES")
        item.user_properties.append(("feature", feature))
        needed = [feature] + [n for m in item.iter_markers("requires") for n in m.args]
        if any(n in unsupported for n in needed):
            assert resolved is not None
            names = ", ".join(n for n in needed if n in unsupported)
            item.add_marker(pytest.mark.skip(reason=f"unsupported: feature {names} is not claimed by {resolved.description}"))
            continue
        if any(n in excluded for n in needed):
            names = ", ".join(n for n in needed if n in excluded)
            item.add_marker(pytest.mark.skip(reason=f"excluded: feature {names} not claimed by the target"))
            continue
        entry = divergences.match(feature, test_id(item.nodeid))
        if entry is not None:
            item.user_properties.append(("divergence", entry.pattern))
            item.add_marker(pytest.mark.xfail(reason=f"known divergence: {entry.reason}", strict=False))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Attach the unsupported requests a test met to its report (the adapter signalled them)."""
    take_unsupported()
    try:
        return (yield)
    finally:
        reasons = take_unsupported()
        if reasons:
            item.user_properties.append(("unsupported", reasons))


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    """A hypothesis test none of whose examples the implementation supports is unsupported."""
    from hypothesis.errors import Unsatisfiable

    try:
        return (yield)
    except Unsatisfiable:
        from .adapters.base import _SEEN

        if not _SEEN:
            raise
        pytest.skip("unsupported: " + "; ".join(dict.fromkeys(_SEEN)))


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    return str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else ""


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
        # "call" carries the verdict; a failed setup too; "???" is xdist's report of a crashed worker
        if report.when not in ("call", "???") and not (report.when == "setup" and report.outcome != "passed"):
            return
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.outcome == "skipped" else "xpassed"
        elif report.outcome == "skipped":
            # adapters report what the implementation cannot express; the user's --exclude is "excluded"
            outcome = "unsupported" if _skip_reason(report).startswith(("unsupported:", "Skipped: unsupported:")) else "excluded"
        else:
            outcome = report.outcome
        ulps = [v for k, v in report.user_properties if k == "ulps"]
        reasons = [r for k, v in report.user_properties if k == "unsupported" for r in v]
        if outcome == "unsupported":
            reasons += _skip_reason(report).removeprefix("Skipped: ").removeprefix("unsupported: ").split("; ")
        self.state["results"].append(
            {
                "id": test_id(report.nodeid),
                "feature": props["feature"],
                "outcome": outcome,
                "worst_ulps": max(ulps) if ulps else None,
                "divergence": props.get("divergence"),
                "message": report.longreprtext[-6000:] if outcome == "failed" else "",
                "duration": report.duration,
                "step_ulps": [v for k, v in report.user_properties if k == "step_ulps"],
                "unsupported": list(dict.fromkeys(reasons)),
            }
        )


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"adagrad-conformance: target {target_name(config)}, "
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
        "target": target_name(config),
        "adapter": "exec" if config.getoption("--adagrad-exec") else config.getoption("--adagrad-adapter"),
        "profile": config.getoption("--adagrad-profile"),
        "excluded": sorted(set(config.getoption("--adagrad-exclude")) - set(state["unsupported"])),
        "unsupported": list(state["unsupported"]),
        "results": results,
        "known_divergences": [
            {"pattern": e.pattern, "reason": e.reason, "used_by": [r["id"] for r in results if r["divergence"] == e.pattern]}
            for e in divergences.entries
        ],
        "stale_divergences": [e.pattern for e in divergences.stale(features, ids)] if results else [],
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

