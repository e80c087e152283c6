"""The suite's pytest options (``--adagrad-*``), registered by the plugin; they do nothing unless a run uses them."""

from __future__ import annotations

import pytest

from adagrad.conformance.engine.target import DEFAULT_TARGET


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("adagrad-conformance")
    group.addoption("--adagrad-target", default=DEFAULT_TARGET, help="module:attr of the Adagrad to check")
    group.addoption("--adagrad-profile", default="ci", choices=("quick", "ci", "thorough"), help="hypothesis profile")
    group.addoption("--adagrad-seed", default=0, type=int, help="seed of the drawn examples (default 0)")
    group.addoption("--adagrad-exclude", action="append", default=[], metavar="FEATURE", help="exclude a feature")
    group.addoption("--adagrad-xfails", default=None, metavar="FILE", help="a known-divergences file (TOML)")
    group.addoption("--adagrad-strict", action="store_true", help="a known divergence that passes fails the run")
    group.addoption("--adagrad-report", default=None, metavar="FILE", help="write a JSON report")
    group.addoption(
        "--adagrad-no-shrink", action="store_true", help="report the first failing example unshrunk (faster)"
    )
    group.addoption(
        "--adagrad-adapter", default="torch", choices=("torch", "functional"), help="how the target is driven"
    )
    group.addoption(
        "--adagrad-exec", default=None, metavar="COMMAND", help="check an external program (subprocess protocol)"
    )
    group.addoption(
        "--adagrad-exec-timeout",
        default=10.0,
        type=float,
        metavar="SECONDS",
        help="per-answer time limit of --adagrad-exec",
    )
    group.addoption(
        "--adagrad-device", default="cpu", metavar="DEVICE", help="torch device of the target's tensors (cpu, cuda)"
    )
    group.addoption(
        "--adagrad-target-spec",
        default=None,
        metavar="FILE|module:attr",
        help="the target's state mapping and claims (TOML/JSON file or entry point; 'none': no shipped spec)",
    )
    group.addoption(
        "--adagrad-claims",
        action="append",
        default=[],
        metavar="KEY=A,B",
        help="what the target claims: dtypes, devices, paths, hyperparameters, features, not_claimed (repeatable)",
    )
    group.addoption(
        "--adagrad-strict-support", action="store_true", help="a refusal of a case (unsupported) is a failure"
    )
