"""The target of one test process: imported (and its spec's warm_up run) once, before any test's time starts, and handed to the tests.

The plugin keeps its state for the process under :data:`STATE_KEY` (set by ``pytest_configure``
in a run of the suite): the known divergences, the resolved target or the error importing it,
and what the target does not claim.
"""

from __future__ import annotations

from typing import Any

import pytest

from adagrad.conformance.adapters.base import resolve
from adagrad.conformance.engine.target import TargetError
from adagrad.conformance.engine.target_spec import warm_up

__all__ = ["STATE_KEY", "load", "state", "target_under_test"]

STATE_KEY = pytest.StashKey[dict]()


def state(config: pytest.Config) -> dict[str, Any]:
    """The plugin's state in this process."""
    return config.stash[STATE_KEY]


def load(config: pytest.Config) -> None:
    """Import the target once per test process, before any test's time starts."""
    current = state(config)
    if current["target"] is not None or current["target_error"] is not None:
        return
    try:
        resolved = resolve(
            config.getoption("--adagrad-target"),
            config.getoption("--adagrad-adapter"),
            config.getoption("--adagrad-exec"),
            exec_timeout=config.getoption("--adagrad-exec-timeout"),
            target_spec=config.getoption("--adagrad-target-spec"),
            claims=config.getoption("--adagrad-claims"),
            strict_support=config.getoption("--adagrad-strict-support"),
        )
        current.update(resolved=resolved, unsupported=resolved.unsupported, target=resolved.target)
        warm_up(resolved.target)  # the spec's warm-up (a build on first use): outside every test's time
    except TargetError as exc:
        current["target_error"] = str(exc)
    except BaseException as exc:  # noqa: BLE001 - a module that exits or raises anything at import
        current["target_error"] = f"importing the target raised {type(exc).__name__}: {exc}"
    if current["target_error"] is None:
        _warm_up()


def _warm_up() -> None:
    """Run torch's own Adagrad once, so that torch's lazy first-use imports (seconds on a busy
    machine) are not counted in the first test's time. No target code runs here."""
    try:
        import torch

        p = torch.zeros(2, requires_grad=True)
        opt = torch.optim.Adagrad([p])
        p.grad = torch.ones(2)
        opt.step()
        opt.zero_grad()
        opt.state_dict()
    except Exception:  # noqa: BLE001 - warming up is an optimisation only
        pass


def target_under_test(pytestconfig: pytest.Config):
    """The :class:`~adagrad.conformance.engine.target.Target` under test."""
    load(pytestconfig)
    current = state(pytestconfig)
    if current["target_error"]:
        pytest.fail(f"adagrad-conformance: {current['target_error']}", pytrace=False)
    device = pytestconfig.getoption("--adagrad-device")
    if device != "cpu":
        import dataclasses

        return dataclasses.replace(current["target"], device=device)
    return current["target"]
