"""A test's known divergences applied to its report: the failure accepted, a different failure, or xpassed.

Collection (:mod:`.planning`) attaches the entries that list a test under :data:`DIVERGENCE_KEY`;
the ``pytest_runtest_makereport`` hook of :mod:`.plugin` calls :func:`apply_divergences` on the
report of the test's call.
"""

from __future__ import annotations

from typing import Any

import pytest

from adagrad.conformance.pytest_plugin.escapes import all_failures

__all__ = ["DIVERGENCE_KEY", "apply_divergences"]

#: The known-divergence entries that list a test (several may, e.g. one per torch range).
DIVERGENCE_KEY = pytest.StashKey[Any]()


def apply_divergences(item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport, entries: list) -> None:
    """A failure every entry's expectation explains is accepted (xfailed); another failure says what the
    entries expected; a pass is an xpass (a failure under ``--adagrad-strict``)."""
    entry = entries[0]
    failures = all_failures(call.excinfo.value) if call.excinfo is not None else []
    matched = next((e for e in entries if failures and all(e.expects(f) for f in failures)), None)
    if report.failed and matched is not None:
        report.outcome = "skipped"
        report.wasxfail = f"{matched.id}: {matched.reason}"
        report.user_properties = [p for p in report.user_properties if p[0] != "divergence"]
        report.user_properties.append(("divergence", matched.id))
    elif report.failed:
        expected = "; ".join(f"{e.id} expects {e.describe_expectation()}" for e in entries)
        report.longrepr = f"{report.longreprtext}\n\nknown divergence {expected}; this failure is different"
    elif report.passed:
        report.wasxfail = f"{entry.id}: {entry.reason}"
        if item.config.getoption("--adagrad-strict"):
            report.outcome = "failed"
            report.longrepr = f"[XPASS(strict)] known divergence {entry.id} did not occur: {entry.reason}"
