"""The plan of a run: each collected conformance test's feature, path and planned outcome, written for ``check``.

A test runs unless a feature it needs is not claimed by the target or excluded by the user (then
it is skipped, or under ``check`` deselected: ``check`` reports planned exclusions from the plan);
a test that runs gets the known divergences that list it. Each test process writes its plan to
the run's state directory (``plan-<worker>.json``, :mod:`.run_state`).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from adagrad.conformance.features import FEATURES
from adagrad.conformance.pytest_plugin import run_state
from adagrad.conformance.pytest_plugin.divergence_outcomes import DIVERGENCE_KEY
from adagrad.conformance.pytest_plugin.known_divergences import Divergences
from adagrad.conformance.pytest_plugin.run_state import test_id
from adagrad.conformance.reporting.model import PATHS

__all__ = ["plan_collection"]


def _feature(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("feature")
    return marker.args[0] if marker else None


def _path(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    value = callspec.params.get("path") if callspec else None
    if isinstance(value, str) and value in PATHS:
        return value
    for p in PATHS:
        if item.name.endswith(f"[{p}]") or f"[{p}-" in item.name or f"-{p}]" in item.name or f"-{p}-" in item.name:
            return p
    return None


def plan_collection(config: pytest.Config, items: list[pytest.Item], state: dict[str, Any]) -> None:
    """Plan the collected tests (``state``: the plugin's, the target loaded) and write the plan file."""
    unsupported = set(state["unsupported"])
    if unsupported:  # tests that read the option (golden) skip cases needing these features too
        config.option.adagrad_exclude = sorted(set(config.getoption("--adagrad-exclude")) | unsupported)
    excluded = set(config.getoption("--adagrad-exclude")) - unsupported
    divergences: Divergences = state["divergences"]
    plan = []
    dropped = []
    for item in items:
        feature = _feature(item)
        if feature is None:
            continue
        if feature not in FEATURES:
            raise pytest.UsageError(f"{item.nodeid}: feature {feature!r} is not registered in FEATURES")
        tid = test_id(item.nodeid)
        item.user_properties += [("feature", feature), ("path", _path(item))]
        needed = [feature] + [n for m in item.iter_markers("requires") for n in m.args]
        planned = "run"
        if any(n in unsupported for n in needed):
            names = ", ".join(n for n in needed if n in unsupported)
            item.add_marker(pytest.mark.skip(reason=f"not claimed: feature {names} is not claimed by the target"))
            planned = "not-claimed"
        elif any(n in excluded for n in needed):
            names = ", ".join(n for n in needed if n in excluded)
            item.add_marker(pytest.mark.skip(reason=f"excluded: feature {names} excluded by the user"))
            planned = "excluded"
        else:
            entries = divergences.matches(tid)
            if entries:  # several may list a test (e.g. one per torch range): any may explain a failure
                item.user_properties.append(("divergence", entries[0].id))
                item.stash[DIVERGENCE_KEY] = entries
        plan.append({"id": tid, "feature": feature, "path": _path(item), "planned": planned})
        if planned != "run":
            dropped.append(item)
    if dropped and os.environ.get("ADAGRAD_CONFORMANCE_CHECK"):
        # `check` reports planned exclusions from the plan: running each as a skip costs seconds
        keep = set(map(id, dropped))
        items[:] = [i for i in items if id(i) not in keep]
        config.hook.pytest_deselected(items=dropped)
    directory = run_state.state_dir()
    if directory is not None and plan:
        run_state.write_json(
            directory / f"plan-{run_state.worker_name()}.json",
            _plan_file(plan, divergences, unsupported, state),
        )


def _plan_file(
    plan: list[dict[str, Any]], divergences: Divergences, unsupported: set[str], state: dict[str, Any]
) -> dict[str, Any]:
    """The plan file's object: the tests, the divergences (and which match no test), the target's facts."""
    return {
        "tests": plan,
        "stale_divergences": [e.id for e in divergences.stale([p["id"] for p in plan])],
        "divergences": [
            {
                "id": e.id,
                "reason": e.reason,
                "tests": list(e.tests),
                "expect": e.expect,
                "exception": e.exception,
                "match": e.match,
            }
            for e in divergences.entries
        ],
        "unsupported": sorted(unsupported),
        "target_error": state["target_error"],
        "description": state["resolved"].description if state["resolved"] else None,
    }
