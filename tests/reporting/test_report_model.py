"""The report model: dataclasses round-trip the report dict, the shipped schema accepts exactly schema_version 2."""

from __future__ import annotations

import copy
import json
import math
from importlib import resources
from typing import Any

import jsonschema
import pytest

from adagrad.conformance.reporting.model import Failure, Report, Result, dumps
from adagrad.conformance.reporting.schema import SCHEMA_PATH, validate
from tests.reporting.synthetic import base_report, failing_report, passing_report, result


@pytest.mark.parametrize("make", [passing_report, failing_report], ids=["passing", "failing"])
def test_round_trip(make):
    """dict -> Report -> dict is the identity on the JSON text, and from a runner's dict too."""
    raw = make()  # as a runner builds it: float('nan') where a value is NaN
    text = json.loads(dumps(raw))
    report = Report.from_json(text)
    assert all(isinstance(r, Result) for r in report.results)
    assert report.to_json() == text
    assert Report.from_json(raw).to_json() == text
    assert [r.id for r in report.results] == [r["id"] for r in raw["results"]]


def test_non_finite_numbers_survive_strict_json():
    data = failing_report()
    text = dumps(data)
    json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in the JSON text"))  # strict JSON
    back = Report.from_json(json.loads(text))
    nan_targets = [
        r.failure.target
        for r in back.results
        if r.failure and r.failure.target is not None and math.isnan(r.failure.target)
    ]
    assert len(nan_targets) == 1
    validate(json.loads(text))


def test_infinite_worst_ulps_is_written_as_a_string():
    data = base_report([result("t.py::a", "golden", "failed", worst_ulps=math.inf, tolerance_ulps=1.0)])
    out = json.loads(dumps(data))
    assert out["results"][0]["worst_ulps"] == "inf"
    assert Report.from_json(out).results[0].worst_ulps == math.inf


@pytest.mark.parametrize("make", [passing_report, failing_report], ids=["passing", "failing"])
def test_synthetic_reports_match_the_schema(make):
    validate(json.loads(dumps(make())))


def _set(path: list[Any], value: Any):
    def edit(d: dict) -> None:
        target = d
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return edit


_DELETE = object()
BAD = [
    ("schema_version 1", _set(["schema_version"], 1), "schema_version"),
    ("unknown top-level key", _set(["smoke"], "hangs"), "smoke"),
    ("missing verdict", _set(["verdict"], _DELETE), "verdict"),
    ("unknown verdict", _set(["verdict"], "ok"), "verdict"),
    ("unknown outcome", _set(["results", 0, "outcome"], "skipped"), "results/0/outcome"),
    ("unknown path", _set(["results", 0, "path"], "cuda"), "results/0/path"),
    ("result without failure key", _set(["results", 0, "failure"], _DELETE), "results/0"),
    ("unknown result key", _set(["results", 0, "pattern"], "x"), "results/0"),
    ("negative step error", _set(["results", 0, "step_ulps"], [{"dtype": "float32", "errors": [-1.0]}]), "errors"),
    ("string step error", _set(["results", 0, "step_ulps"], [{"dtype": "float32", "errors": ["nan"]}]), "errors"),
    ("seed not an integer", _set(["seed"], "0"), "seed"),
    ("unknown run status", _set(["run", "status"], "done"), "run/status"),
    ("environment without python", _set(["environment", "python"], _DELETE), "environment"),
    (
        "divergence without used_by",
        _set(["divergences"], [{"id": "D1", "reason": "r", "tests": [], "xpassed_by": []}]),
        "divergences/0",
    ),
    ("failure without statement", _set(["results", 0, "failure"], {"step": 1}), "results/0/failure"),
    ("bad number string", _set(["results", 0, "worst_ulps"], "big"), "results/0/worst_ulps"),
]


@pytest.mark.parametrize(("edit", "where"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_schema_rejects(edit, where):
    data = copy.deepcopy(base_report([result("test_x.py::test_a", "closure")]))
    validate(data)  # the unedited report is valid
    edit(data)
    with pytest.raises(jsonschema.ValidationError, match="report does not match report.schema.json"):
        validate(data)


def test_validation_error_names_where():
    data = base_report([result("test_x.py::test_a", "closure", "skipped")], verdict="conformant")
    with pytest.raises(jsonschema.ValidationError, match=r"at results/0/outcome: 'skipped' is not one of"):
        validate(data)


def test_from_json_names_the_missing_key():
    data = base_report([result("test_x.py::test_a", "closure")])
    del data["results"][0]["case_size"]
    with pytest.raises(ValueError, match=r"result test_x.py::test_a: missing key\(s\) case_size"):
        Report.from_json(data)
    data = base_report([result("test_x.py::test_a", "closure", "skipped")], verdict="conformant")
    with pytest.raises(ValueError, match="unknown outcome 'skipped'"):
        Report.from_json(data)


def test_schema_keys_are_the_models_keys():
    """The schema and the dataclasses describe the same keys: neither can gain one alone."""
    schema = json.loads(SCHEMA_PATH.read_text())
    # diagnosis_records (the cases `explain` replays) is the one optional key, outside the model
    assert set(schema["required"]) == set(schema["properties"]) - {"diagnosis_records"} == set(Report._KEYS)
    assert set(schema["$defs"]["result"]["required"]) == set(Result._KEYS)
    assert set(schema["$defs"]["failure"]["required"]) == set(Failure._KEYS)
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_ships_in_the_package():
    assert (resources.files("adagrad.conformance.reporting") / "report.schema.json").is_file()
