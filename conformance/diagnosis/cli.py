"""``adagrad-conformance explain REPORT.json``: re-derive the diagnosis from a saved report.

The report's ``"diagnosis_records"`` (the failing cases with the target's trajectories, written
by ``check --report``) are replayed against the catalogue; the target is not run. Exit status 0
with the diagnosis printed; 2 with one line when the file is not a report or holds no records.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from adagrad.conformance.diagnosis.records import Record
from adagrad.conformance.diagnosis.search import BUDGET_S, MAX_RECORDS, diagnose

__all__ = ["explain", "register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``explain`` subcommand."""
    p = sub.add_parser(
        "explain",
        help="name the known variant behind a saved report's numerical failures",
        description="Replay the failing cases saved in REPORT.json (check --report) against the catalogue of "
        "known Adagrad variants (docs/diagnosis.md) and print which explain the failures.",
    )
    p.add_argument("report", help="a JSON report written by check --report")
    p.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    p.add_argument(
        "--max-records",
        type=int,
        default=MAX_RECORDS,
        metavar="N",
        help=f"replay at most N records, the smallest (default {MAX_RECORDS})",
    )
    p.add_argument(
        "--budget",
        type=float,
        default=BUDGET_S,
        metavar="SECONDS",
        help=f"stop the search after SECONDS (default {BUDGET_S:g})",
    )
    p.set_defaults(func=explain)


def _error(message: str) -> int:
    print(f"adagrad-conformance explain: error: {message}", file=sys.stderr)
    return 2


def explain(args: argparse.Namespace) -> int:
    """The ``explain`` subcommand."""
    path = Path(args.report)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return _error(f"cannot read {path}: {exc.strerror or exc}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return _error(f"{path} is not a JSON report: {exc}")
    if not isinstance(data, dict) or "results" not in data and "diagnosis_records" not in data:
        return _error(f"{path} is not a conformance report (no results, no diagnosis_records)")
    raw = data.get("diagnosis_records")
    if not raw:
        return _error(
            f"{path} has no diagnosis records (a conformant run, or a report written before diagnosis existed)"
        )
    if not isinstance(raw, list):
        return _error(f"{path}: diagnosis_records must be a list")
    if args.max_records < 1 or args.budget <= 0:
        return _error("--max-records must be at least 1 and --budget positive")
    try:
        records = [Record.from_json(r) for r in raw]
    except (ValueError, TypeError) as exc:
        return _error(f"{path}: a diagnosis record is malformed: {exc}")
    diagnosis = diagnose(records, max_records=args.max_records, budget_s=args.budget)
    print(json.dumps(diagnosis.to_json(), indent=1) if args.json else diagnosis.summary())
    return 0
