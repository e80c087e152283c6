"""Hypothesis profiles of the suite: ``quick``, ``ci`` (both derandomized) and ``thorough``.

Hypothesis registers and loads its own ``ci`` profile when the ``CI`` environment variable is
set; ours replaces that name, has an explicit parent, and is loaded explicitly by the plugin
(:func:`load`), so a run behaves the same on a laptop and in CI.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

__all__ = ["PROFILES", "load", "register"]

_COMMON = dict(
    deadline=None,  # a target's speed is not what this suite judges; the per-case timeout is
    database=None,  # no example database: runs are reproducible and leave nothing behind
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,  # record_ulps only appends: sharing it across examples is intended
    ],
    print_blob=False,
)

#: name -> (derandomize, max_examples, per-case timeout in seconds)
PROFILES: dict[str, tuple[bool, int, int]] = {
    "quick": (True, 3, 20),
    "ci": (True, 12, 60),
    "thorough": (False, 200, 600),
}


def register() -> None:
    """Register the three profiles (idempotent)."""
    default = settings.get_profile("default")
    for name, (derandomize, max_examples, _timeout) in PROFILES.items():
        settings.register_profile(name, parent=default, derandomize=derandomize, max_examples=max_examples, **_COMMON)


def load(name: str) -> None:
    """Register the profiles and load ``name``; unknown names raise ``ValueError``."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    register()
    settings.load_profile(name)
