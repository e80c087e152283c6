"""The suite's fixtures, registered by the plugin only in a run of the suite (it is inert elsewhere).

``adagrad_target`` is the target under test (``target`` inside the suite's own modules) and
``adagrad_record_ulps`` (``record_ulps``) records a test's worst error for the report.
"""

from __future__ import annotations

import pytest

from adagrad.conformance.pytest_plugin.recording import UlpsRecorder
from adagrad.conformance.pytest_plugin.target_loading import target_under_test as _target

__all__ = ["adagrad_record_ulps", "adagrad_target", "record_ulps", "target"]


@pytest.fixture(scope="session")
def adagrad_target(pytestconfig: pytest.Config):
    """The :class:`~adagrad.conformance.engine.target.Target` under test."""
    return _target(pytestconfig)


@pytest.fixture(scope="session")
def target(adagrad_target):
    """``adagrad_target`` under the name the suite's modules use."""
    return adagrad_target


@pytest.fixture
def adagrad_record_ulps(request: pytest.FixtureRequest) -> UlpsRecorder:
    """A function recording the worst error (in ulps) a test measured, for the report."""
    return UlpsRecorder(request.node)


@pytest.fixture
def record_ulps(adagrad_record_ulps: UlpsRecorder) -> UlpsRecorder:
    """``adagrad_record_ulps`` under the name the suite's modules use."""
    return adagrad_record_ulps
