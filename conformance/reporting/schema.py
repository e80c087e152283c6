"""Checks a report against the JSON Schema shipped beside the model (``report.schema.json``)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from adagrad.conformance.reporting.model import Report

__all__ = ["SCHEMA_PATH", "validate"]

SCHEMA_PATH = Path(__file__).with_name("report.schema.json")


@cache
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate(report: Report | dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` (naming the offending key) unless the report matches the schema.

    A :class:`Report` is validated in its JSON form; a dict as it is.
    """
    import jsonschema  # the suite's dependency; imported here so reading a report does not need it

    data = report.to_json() if isinstance(report, Report) else report
    validator = jsonschema.Draft202012Validator(_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise jsonschema.ValidationError(f"report does not match {SCHEMA_PATH.name} at {where}: {error.message}")
