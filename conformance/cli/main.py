"""The ``adagrad-conformance`` command: ``check`` a target, manage ``fixtures``.

Exit status of ``check``: 0 conformant, 1 non-conformant, 2 usage error or a target that cannot
be imported.
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata

__all__ = ["build_parser", "main"]


def _version() -> str:
    try:
        return metadata.version("adagrad-conformance")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; each subcommand module registers its own options."""
    parser = argparse.ArgumentParser(
        prog="adagrad-conformance",
        description="Check an Adagrad implementation against PyTorch's Adagrad semantics.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from adagrad.conformance.cli import check_options, runner
    from adagrad.fixtures import cli as fixtures_cli

    check_options.register(sub, runner.run_check)
    fixtures_cli.register(sub)
    from adagrad.conformance.diagnosis.cli import register as register_explain

    register_explain(sub)
    return parser


#: What the suite needs beyond the optimizer's own dependencies (the ``suite`` extra).
SUITE_MODULES = ("pytest", "xdist", "hypothesis", "jsonschema", "packaging")


def missing_suite_dependencies() -> list[str]:
    import importlib.util

    return [m for m in SUITE_MODULES if importlib.util.find_spec(m) is None]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    missing = missing_suite_dependencies()
    if missing:
        print(
            f"adagrad-conformance: error: the suite needs {', '.join(missing)}: "
            "pip install 'adagrad-conformance[suite]'",
            file=sys.stderr,
        )
        return 2
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help/--version
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
