"""Hypothesis profiles of the suite: ``quick``, ``ci`` (both derandomized) and ``thorough``.

Hypothesis registers and loads its own ``ci`` profile when the ``CI`` environment variable is
set; ours replaces that name, has an explicit parent, and is loaded explicitly by the plugin
(:func:`load`), so a run behaves the same on a laptop and in CI.
"""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings

__all__ = ["PROFILES", "load", "register"]

_COMMON = dict(
    deadline=None,  # a target's speed is not what this suite judges; the per-case timeout is
    database=None,  # no example database: runs are reproducible and leave nothing behind
    suppress_health_check=[
        HealthCheck.too_slow,  # the target's speed is not judged here (see deadline)
        HealthCheck.data_too_large,  # cases with 4,096+ element tensors (quantized state shows only there)
        HealthCheck.filter_too_much,  # strategies are constructive; rejections are a target's refusals (unsupported)
        HealthCheck.function_scoped_fixture,  # record_ulps only appends: sharing it across examples is intended
    ],
    print_blob=False,
)

#: name -> (derandomize, max_examples, per-case timeout in seconds)
PROFILES: dict[str, tuple[bool, int, int]] = {
    "quick": (True, 2, 20),
    "ci": (True, 12, 60),
    "thorough": (False, 200, 600),
}


def register() -> None:
    """Register the three profiles (idempotent)."""
    default = settings.get_profile("default")
    for name, (derandomize, max_examples, _timeout) in PROFILES.items():
        settings.register_profile(name, parent=default, derandomize=derandomize, max_examples=max_examples, **_COMMON)


def load(name: str, *, shrink: bool = True) -> None:
    """Register the profiles and load ``name``; unknown names raise ``ValueError``.

    ``shrink=False`` loads a child profile without the shrink phase: a failure is reported as
    first found, not minimised (the mutant meta-tests use it: they need the verdict, not the
    smallest case).
    """
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    register()
    if shrink:
        settings.load_profile(name)
        return
    phases = [p for p in settings.get_profile(name).phases if p is not Phase.shrink]
    settings.register_profile(f"{name}-no-shrink", parent=settings.get_profile(name), phases=phases)
    settings.load_profile(f"{name}-no-shrink")
