"""The options of ``adagrad-conformance check`` and their checks before anything runs (a usage error: exit status 2)."""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from adagrad.conformance.features import FEATURES
from adagrad.conformance.pytest_plugin import profiles


def register(sub: argparse._SubParsersAction, run: Callable[[argparse.Namespace], int]) -> None:
    """Add the ``check`` subcommand."""
    p = sub.add_parser(
        "check",
        help="check an Adagrad implementation against the spec",
        description="Run the conformance suite on TARGET (module:attr of a class or factory "
        "f(params, **hyperparameters) with torch's Optimizer API; with --adapter functional, an "
        "object with init/step/accumulators), or on an external program (--exec).",
    )
    p.add_argument("target", nargs="?", help="module:attr, e.g. torch.optim:Adagrad (not with --exec)")
    p.add_argument(
        "--adapter",
        choices=("torch", "functional"),
        default="torch",
        help="torch: TARGET is a torch Optimizer (default); functional: TARGET follows the functional protocol",
    )
    p.add_argument(
        "--exec",
        dest="exec_command",
        metavar="COMMAND",
        help="check an external program speaking the subprocess protocol (JSON lines on stdin/stdout)",
    )
    p.add_argument(
        "--exec-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds the --exec program may take per answer (default 10)",
    )
    p.add_argument(
        "--exec-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds the --exec program's answers may take in all, per worker (default: 150 per example "
        "of the profile: quick 300, ci 1800, thorough 30000); past it, tests fail as too slow",
    )
    p.add_argument("--markdown", metavar="FILE", help="write a Markdown report to FILE")
    p.add_argument(
        "--html", metavar="FILE", help="write a self-contained HTML report with plots to FILE (needs matplotlib)"
    )
    p.add_argument(
        "--profile", choices=sorted(profiles.PROFILES), default="quick", help="hypothesis profile (default: quick)"
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="FEATURE",
        help="a feature the target does not claim (repeatable)",
    )
    p.add_argument(
        "--only", action="append", default=[], metavar="FEATURE", help="check only this feature (repeatable)"
    )
    p.add_argument("--report", metavar="FILE", help="write the JSON report to FILE")
    p.add_argument("--junitxml", metavar="FILE", help="write JUnit XML to FILE")
    p.add_argument(
        "--xfails",
        metavar="FILE",
        default=None,
        help="a known-divergences file (TOML) for this target, added to the packaged entries (which name their targets)",
    )
    p.add_argument("--strict", action="store_true", help="a known divergence that did not occur fails the run")
    p.add_argument("-n", dest="workers", default="2", help="pytest-xdist workers: a number >= 1, or auto (default 2)")
    p.add_argument(
        "--timeout", type=float, help="per-test limit in seconds of the target's own time (default: by profile)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the drawn examples (default 0; the report prints it)")
    p.add_argument("--no-shrink", action="store_true", help="do not minimise failing examples (faster verdicts)")
    p.add_argument("--device", default="cpu", help="torch device for the target's tensors (cpu or cuda)")
    p.add_argument(
        "--target-spec",
        metavar="FILE|module:attr",
        help="the target's state mapping and claims: a TOML/JSON file or an entry point (docs/protocols.md); "
        "default: the spec shipped for TARGET if any, 'none' for no spec",
    )
    p.add_argument(
        "--claims",
        action="append",
        default=[],
        metavar="KEY=A,B",
        help="what the target claims (repeatable): dtypes=, devices=, paths=, hyperparameters=, features=, "
        "not_claimed=; the rest is reported 'not claimed'",
    )
    p.add_argument(
        "--strict-support",
        action="store_true",
        help="a case the target refuses (reported unsupported by default) is a failure",
    )
    p.add_argument("--list-features", action="store_true", help="list the features and exit")
    p.set_defaults(func=run)


def usage_error(message: str) -> int:
    print(f"adagrad-conformance: error: {message}", file=sys.stderr)
    return 2


def _importable(name: str) -> bool:
    """Whether ``import name`` can be found, without importing it (a blocked or broken entry counts as missing)."""
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _writable(option: str, value: str | None) -> str | None:
    if not value:
        return None
    path = Path(value)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return f"{option} {value} is a directory, not a file"
    if not parent.is_dir():
        return f"{option} {value}: directory {parent} does not exist"
    if path.exists() and not os.access(path, os.W_OK) or not os.access(parent, os.W_OK):
        return f"{option} {value} is not writable"
    return None


def validate(args: argparse.Namespace) -> str | None:
    """Every option checked before anything runs; the problem in one line, or None."""
    if args.exec_command and args.target:
        return "give either TARGET or --exec COMMAND, not both"
    if not args.exec_command and not args.target:
        return "a TARGET (module:attr) or --exec COMMAND is needed"
    for name in args.exclude + args.only:
        if name not in FEATURES:
            return f"unknown feature {name!r} (see --list-features)"
    if args.only:
        args.exclude = sorted(set(args.exclude) | (set(FEATURES) - set(args.only)))
    if set(FEATURES) <= set(args.exclude):
        return "every feature is excluded: nothing to check"
    if args.workers == "auto":
        args.workers = str(os.cpu_count() or 1)
    try:
        workers = int(args.workers)
    except ValueError:
        return f"-n takes a number of workers or auto, got {args.workers!r}"
    if not 1 <= workers <= 64:
        return "-n must be between 1 and 64 (workers isolate the suite from crashes in the target)"
    for option, value in (
        ("--timeout", args.timeout),
        ("--exec-timeout", args.exec_timeout),
        ("--exec-budget", args.exec_budget),
    ):
        if value is not None and (not math.isfinite(value) or value <= 0):
            return f"{option} must be a positive number of seconds, got {value}"
    if args.exec_command:
        try:
            if not shlex.split(args.exec_command):
                return "--exec needs a command"
        except ValueError as exc:
            return f"--exec {args.exec_command!r} cannot be split into words: {exc}"
    for option, value in (
        ("--report", args.report),
        ("--markdown", args.markdown),
        ("--html", args.html),
        ("--junitxml", args.junitxml),
    ):
        problem = _writable(option, value)
        if problem:
            return problem
    if args.html and not _importable("matplotlib"):
        return "--html needs matplotlib: pip install 'adagrad-conformance[plots]'"
    if args.xfails:
        from adagrad.conformance.pytest_plugin.known_divergences import DivergenceFileError, load_divergences

        try:
            load_divergences(Path(args.xfails))
        except DivergenceFileError as exc:
            return str(exc)
    if args.target_spec or args.claims or args.strict_support:
        if args.exec_command or args.adapter != "torch":
            return "--target-spec, --claims and --strict-support apply to a torch-API TARGET, not to --adapter functional or --exec"
        from adagrad.conformance.engine.claims import parse_claims
        from adagrad.conformance.engine.target import TargetError
        from adagrad.conformance.engine.target_spec import load_spec

        try:
            if args.target_spec and args.target_spec != "none":
                load_spec(
                    args.target_spec, resolve=False
                )  # a file is read, an entry point only parsed: no target code here
            parse_claims(args.claims)
        except TargetError as exc:
            return str(exc)
    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        return f"--device must be cpu or cuda[:N], got {args.device!r}"
    if args.device != "cpu":
        import torch

        if not torch.cuda.is_available():
            return f"--device {args.device}: CUDA is not available here (torch {torch.__version__})"
    return None
