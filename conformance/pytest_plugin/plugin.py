"""The pytest plugin (entry point ``pytest11``): options, the ``target`` fixture, integrity, report.

``pytest --pyargs adagrad.conformance --adagrad-target module:attr`` runs the suite on a target
from any directory (that is the user's own pytest, with the user's configuration; the
``adagrad-conformance check`` command runs a hermetic one). Options:

- ``--adagrad-target``: the target (default ``torch.optim:Adagrad``).
- ``--adagrad-profile``: hypothesis profile ``quick``, ``ci`` (default) or ``thorough``.
- ``--adagrad-seed``: examples depend only on this seed and each test's id (default 0).
- ``--adagrad-exclude FEATURE``: a feature the target does not claim (repeatable).
- ``--adagrad-xfails FILE``: a known-divergences file (TOML) added to the packaged one.
- ``--adagrad-strict``: a known divergence whose test passes fails the run.
- ``--adagrad-report FILE``: write the JSON report there.
- ``--adagrad-adapter torch|functional``, ``--adagrad-exec COMMAND``,
  ``--adagrad-exec-timeout SECONDS``: how the target is driven (docs/protocols.md).

Integrity: whatever target code raises during a test (``pytest.skip``, ``pytest.xfail``,
``unittest.SkipTest``, ``SystemExit``, ``KeyboardInterrupt``) is that test's failure; skips and
expected failures come only from the suite itself (planned exclusions, declared divergences,
adapters' unsupported signals). The oracle runs in its own process (:mod:`.oracle_service`),
started before the target is imported.

This module holds the hooks; the target's import (:mod:`.target_loading`), the plan
(:mod:`.planning`) and known divergences' outcomes (:mod:`.divergence_outcomes`) have their own.
"""

from __future__ import annotations

import os
import tempfile
import unittest
import zlib
from pathlib import Path
from typing import Any

import pytest

from adagrad.conformance.adapters.base import Resolved, take_unsupported
from adagrad.conformance.features import FEATURES
from adagrad.conformance.pytest_plugin import run_state
from adagrad.conformance.pytest_plugin.divergence_outcomes import DIVERGENCE_KEY, apply_divergences
from adagrad.conformance.pytest_plugin.escapes import TargetEscape, failure_of
from adagrad.conformance.pytest_plugin.known_divergences import DEFAULT_FILE, DivergenceFileError, load_divergences
from adagrad.conformance.pytest_plugin.options import pytest_addoption  # noqa: F401 - a hook: pytest looks for it here
from adagrad.conformance.pytest_plugin.planning import plan_collection
from adagrad.conformance.pytest_plugin.recording import (
    Recorder,
    bounded_sections,
    heartbeat,
    meta_from_config,
)
from adagrad.conformance.pytest_plugin.run_state import test_id
from adagrad.conformance.pytest_plugin.target_loading import STATE_KEY, load


def _active(config: pytest.Config) -> bool:
    """Only a run of the suite is touched: its --pyargs, a path inside it, or an --adagrad option."""
    args = [str(a) for a in config.invocation_params.args]
    here = str(Path(__file__).parents[1])  # the conformance package
    return any(a.startswith("--adagrad") or "adagrad.conformance" in a or a.startswith(here) for a in args)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "feature(name): the conformance feature a test belongs to")
    config.addinivalue_line("markers", "requires(*names): other features a test needs")
    config.addinivalue_line("markers", "spec(*rules): the spec rules (docs/spec.md) a test checks")
    config.addinivalue_line(
        "markers", "time_limit(seconds): this test may take at least this long (e.g. it spawns processes)"
    )
    if not _active(config):
        return  # inert: no profile, no fixtures, nothing else in a run that is not the suite's
    from adagrad.conformance.pytest_plugin import profiles, suite_fixtures

    config.pluginmanager.register(suite_fixtures, "adagrad-conformance-fixtures")
    profiles.load(config.getoption("--adagrad-profile"), shrink=not config.getoption("--adagrad-no-shrink"))
    unknown = [f for f in config.getoption("--adagrad-exclude") if f not in FEATURES]
    if unknown:
        raise pytest.UsageError(f"unknown feature(s) to exclude: {', '.join(unknown)}; known: {', '.join(FEATURES)}")
    if run_state.state_dir() is None:  # a plain pytest run: the plugin keeps its own state directory
        os.environ[run_state.ENV] = tempfile.mkdtemp(prefix="adagrad-conformance-")
        config.stash[_OWN_STATE] = os.environ[run_state.ENV]  # removed when this run ends
    target = config.getoption("--adagrad-target")
    try:
        divergences = load_divergences(DEFAULT_FILE, user_file=False)
        user = config.getoption("--adagrad-xfails")
        if user:
            divergences = divergences + load_divergences(Path(user))
    except DivergenceFileError as exc:
        raise pytest.UsageError(str(exc)) from None
    spec = f"exec:{config.getoption('--adagrad-exec')}" if config.getoption("--adagrad-exec") else target
    divergences = divergences.for_target(spec, _torch_version())
    state = {"divergences": divergences, "resolved": None, "unsupported": [], "target": None, "target_error": None}
    config.stash[STATE_KEY] = state
    if hasattr(config, "workerinput") or not _uses_xdist(config):  # a process that runs tests
        from adagrad.conformance.engine.oracle_service import OracleClient

        OracleClient.start(dict(os.environ))  # before any target code is imported
    config.pluginmanager.register(Recorder(config), "adagrad-conformance-recorder")


def _uses_xdist(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


def _torch_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("torch")
    except Exception:  # noqa: BLE001 - torch is a dependency; a broken install has no version
        return None


_OWN_STATE = pytest.StashKey[str]()


def pytest_unconfigure(config: pytest.Config) -> None:
    own = config.stash.get(_OWN_STATE, None)
    if own and not hasattr(config, "workerinput"):
        import shutil

        shutil.rmtree(own, ignore_errors=True)
        os.environ.pop(run_state.ENV, None)
    if STATE_KEY in config.stash:
        from adagrad.conformance.engine.oracle_service import OracleClient

        OracleClient.stop()
    resolved: Resolved | None = config.stash.get(STATE_KEY, {}).get("resolved")
    close = getattr(getattr(getattr(getattr(resolved, "target", None), "factory", None), "impl", None), "close", None)
    if close:
        close()


#: Outcome exceptions that only the suite may raise; from target code they are failures.
_ESCAPES: tuple[type[BaseException], ...] = (
    pytest.skip.Exception,
    pytest.xfail.Exception,
    pytest.exit.Exception,
    unittest.SkipTest,
    SystemExit,
    KeyboardInterrupt,
    GeneratorExit,
)


def _seed(config: pytest.Config, tid: str) -> int:
    return zlib.crc32(f"{config.getoption('--adagrad-seed')}:{tid}".encode())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Seed the test from its id; attach unsupported requests; turn target escapes into failures."""
    if STATE_KEY not in item.config.stash:
        return (yield)
    obj = getattr(item, "obj", None)
    if getattr(obj, "is_hypothesis_test", False):
        from hypothesis import seed

        seed(_seed(item.config, test_id(item.nodeid)))(getattr(obj, "__func__", obj))
    take_unsupported()
    try:
        return (yield)
    except _ESCAPES as exc:
        if getattr(exc, "_adagrad_sanctioned", False):
            raise
        raise TargetEscape(
            f"code under test raised {type(exc).__module__}.{type(exc).__name__}({exc}) during the test: "
            "a target cannot skip, expect-fail or end its own checks"
        ) from None
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
        from adagrad.conformance.adapters.base import _SEEN

        if not _SEEN:
            raise
        exc = pytest.skip.Exception("unsupported: " + "; ".join(dict.fromkeys(_SEEN)))
        exc._adagrad_sanctioned = True  # type: ignore[attr-defined]
        raise exc from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report: pytest.TestReport = yield
    if STATE_KEY not in item.config.stash or report.when != "call":
        return bounded_sections(report)
    exc = failure_of(call.excinfo)
    details = getattr(exc, "details", None)
    if report.failed and details:
        report.user_properties.append(("failure", {k: v for k, v in details.items()}))
        if getattr(exc, "size", None) is not None:
            report.user_properties.append(("case_size", exc.size))
    entries = item.stash.get(DIVERGENCE_KEY, None)
    if entries:
        apply_divergences(item, call, report, entries)
    return bounded_sections(report)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    marker = item.get_closest_marker("time_limit")
    heartbeat(item.nodeid, float(marker.args[0]) if marker else None)


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    heartbeat(None)


def pytest_report_header(config: pytest.Config) -> list[str]:
    if STATE_KEY not in config.stash:
        return []
    m = meta_from_config(config)
    return [
        f"adagrad-conformance: target {m['target']}, profile {m['profile']}, seed {m['seed']}, "
        f"excluded: {', '.join(m['excluded']) or 'none'}"
    ]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if STATE_KEY not in config.stash:
        return
    load(config)  # the target's import is not part of any test's time
    plan_collection(config, items, config.stash[STATE_KEY])
