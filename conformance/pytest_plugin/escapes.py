"""Target escapes: pytest's skip/xfail/exit outcomes, ``unittest.SkipTest``, ``SystemExit`` or ``KeyboardInterrupt`` raised from target code are that case's failure; only the suite's own markers skip."""

from __future__ import annotations

import pytest


class TargetEscape(AssertionError):
    """Target code raised an outcome exception (skip, xfail, exit, interrupt) during a test."""


def failure_of(excinfo: pytest.ExceptionInfo | None) -> BaseException | None:
    if excinfo is None:
        return None
    exc = excinfo.value
    while isinstance(exc, BaseExceptionGroup):  # hypothesis reports several distinct failures so
        exc = exc.exceptions[0]
    return exc


def all_failures(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [e for sub in exc.exceptions for e in all_failures(sub)]
    return [exc]
