"""Records and diagnoses survive JSON exactly, and ``adagrad-conformance explain`` re-derives a diagnosis."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from diagnosis_helpers import ROOT, fixed_cases

from adagrad.conformance.cli import main
from adagrad.conformance.diagnosis import Diagnosis, Record, diagnose, semantics_of, trajectory
from adagrad.conformance.diagnosis.records import decode_value, encode_value
from adagrad.conformance.engine.harness import Case
from adagrad.reference import SparseGrad

SPECIAL = np.array([-0.0, 0.0, 5e-324, -1.5e-310, np.inf, -np.inf, np.nan, 1 / 3, np.nextafter(1.0, 2.0)])


def _bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_values_round_trip_bit_for_bit():
    """Signed zeros, subnormals, infinities, NaN, complex, ints, sparse, tuples and int-keyed dicts."""
    z = np.empty(4, dtype=np.complex128)
    z.real, z.imag = SPECIAL[:4], SPECIAL[4:8]  # no arithmetic: inf and NaN parts stay as they are
    sparse = SparseGrad(np.array([[0, 2, 0]]), np.array([[1.0, -0.0], [np.nan, 2.0], [3.0, 4.0]]), (3, 2))
    value = {"a": SPECIAL, 3: (z, None, [1, 2.5, float("nan"), True]), "s": sparse, "e": np.zeros((0, 2))}
    back = decode_value(json.loads(json.dumps(encode_value(value), allow_nan=False)))
    assert _bits_equal(back["a"], SPECIAL)
    assert _bits_equal(back[3][0], z) and back[3][1] is None
    assert back[3][2][:2] == [1, 2.5] and np.isnan(back[3][2][2]) and back[3][2][3] is True
    assert _bits_equal(back["s"].indices, np.array([[0, 2, 0]])) and _bits_equal(back["s"].values, sparse.values)
    assert back["s"].shape == (3, 2) and back["e"].shape == (0, 2)


@pytest.mark.parametrize("case", fixed_cases(), ids=lambda c: f"{c.dtype}-{len(c.grads)}steps")
def test_record_round_trips(case: Case):
    """Record.to_json / from_json: the same case (every field) and the same trajectory, bit for bit."""
    record = Record(case, trajectory(case, semantics_of("eps-inside-sqrt")), "test_x.py::test_y[1]")
    back = Record.from_json(json.loads(json.dumps(record.to_json(), allow_nan=False)))
    assert back.test_id == record.test_id
    assert json.dumps(back.to_json()) == json.dumps(record.to_json())
    assert back.case.edits == case.edits and back.case.dtype == case.dtype and back.case.groups == case.groups
    for (p1, s1, t1), (p2, s2, t2) in zip(back.trajectory, record.trajectory, strict=True):
        assert t1 == t2
        assert all(_bits_equal(a, b) for a, b in zip(p1, p2, strict=True))
        assert all((a is None and b is None) or _bits_equal(a, b) for a, b in zip(s1, s2, strict=True))


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"test_id": "x", "case": {}}, "test_id, case and trajectory"),
        ({"test_id": "x", "case": {"dtype": "float64", "bogus": 1}, "trajectory": []}, "unknown field(s): bogus"),
        ({"test_id": "x", "case": {"dtype": "float64"}, "trajectory": []}, "incomplete"),
        (
            {
                "test_id": "x",
                "case": {
                    "dtype": "float64",
                    "params": {"array": {"dtype": "float64", "shape": [2], "data": "AAAA"}},
                    "grads": [],
                    "groups": [],
                },
                "trajectory": [],
            },
            "needs 16 bytes",
        ),
        (
            {
                "test_id": "x",
                "case": {"dtype": "float64", "params": {"blob": 1}, "grads": [], "groups": []},
                "trajectory": [],
            },
            "unknown tag 'blob'",
        ),
    ],
)
def test_malformed_record_is_named(bad, words):
    with pytest.raises(ValueError, match=None) as info:
        Record.from_json(bad)
    assert words in str(info.value)


def test_diagnosis_round_trips():
    records = [
        Record(c, trajectory(c, semantics_of("lr-decay-off-by-one")), f"t{i}") for i, c in enumerate(fixed_cases()[:6])
    ]
    diagnosis = diagnose(records)
    data = json.loads(json.dumps(diagnosis.to_json(), allow_nan=False))
    back = Diagnosis.from_json(data)
    assert back == diagnosis and back.summary() == diagnosis.summary() == data["summary"]


def _explain(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "adagrad.conformance.cli", "explain", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_explain_re_derives_the_diagnosis(tmp_path):
    """explain REPORT.json: exit 0, the diagnosis from the saved records (the target is not needed)."""
    records = [Record(c, trajectory(c, semantics_of("no-eps")), f"t{i}") for i, c in enumerate(fixed_cases()[:5])]
    report = tmp_path / "report.json"
    report.write_text(
        json.dumps(
            {
                "target": "somewhere:Gone",
                "results": [],
                "verdict": "non-conformant",
                "diagnosis_records": [r.to_json() for r in records],
            }
        )
    )
    proc = _explain(str(report))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("explained by: no eps at all:"), proc.stdout
    proc = _explain(str(report), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["explained_by"][0]["variants"] == ["no-eps"]


@pytest.mark.parametrize(
    "content, words",
    [
        ("not json", "is not a JSON report"),
        ("[1, 2]", "is not a conformance report"),
        ('{"results": [], "verdict": "conformant"}', "has no diagnosis records"),
        ('{"results": [], "diagnosis_records": [{"test_id": 1}]}', "a diagnosis record is malformed"),
    ],
)
def test_explain_refuses_what_is_not_a_report(tmp_path, capsys, content, words):
    """Exit 2 with one line naming the problem (in-process: the console path is tested above)."""
    path = tmp_path / "r.json"
    path.write_text(content)
    assert main(["explain", str(path)]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1 and words in lines[0], err


def test_docs_list_the_catalogue():
    """docs/diagnosis.md has a row for every variant, with its rules (docs match the code)."""
    from adagrad.conformance.diagnosis import CATALOGUE

    text = (ROOT / "docs" / "diagnosis.md").read_text()
    table = text[text.index("## The catalogue") :].split("\n## ")[0]
    rows = {line.split("|")[1].strip().strip("`"): line for line in table.splitlines() if line.startswith("| `")}
    assert set(rows) == {v.name for v in CATALOGUE}
    for v in CATALOGUE:
        assert f"| {', '.join(v.rules)} |" in rows[v.name], v.name
        assert all(lib in rows[v.name] for lib in v.libraries + v.reported), v.name


def _run_state_line(case: Case, steps: list) -> dict:
    from adagrad.conformance.engine.codec import encode_case, encode_trajectory

    return {"case": encode_case(case), "trajectory": encode_trajectory(steps), "test_id": "t"}


def test_run_state_records_decode_with_what_the_target_returned():
    """A record a check's oracle service kept decodes to a Record: complex values as complex where the target
    kept the parameter complex, as they are where it returned real ones (bitsandbytes drops the
    imaginary part: the runner once crashed there with 'too many indices for array')."""
    from adagrad.conformance.diagnosis import from_run_state
    from adagrad.conformance.engine.case import TargetStep
    from adagrad.conformance.engine.tensor_bits import encode_bits

    z = np.array(0.25 - 0.5j)
    case = Case(dtype="complex128", params=[z], grads=[[np.array(0.125 + 0.25j)]], groups=[{"lr": 0.1, "params": [0]}])
    pairs = np.stack([z.real, z.imag], axis=-1)
    kept = TargetStep(params=[("float64", encode_bits(pairs, "float64"))], sums=[None], steps=[1])
    dropped = TargetStep(
        params=[("float64", encode_bits(np.array(0.25), "float64"))],
        sums=[("float32", encode_bits(np.array(0.5), "float32"))],
        steps=[("float32", encode_bits(np.array([1.0]), "float32"))],
    )
    broken = TargetStep(params=[], sums=[], steps=[], error="state unreadable")
    record = from_run_state(_run_state_line(case, [kept, dropped, broken]))
    assert len(record.trajectory) == 2
    (p0, s0, t0), (p1, s1, t1) = record.trajectory
    assert p0[0] == z and s0 == [None] and t0 == [1]
    assert p1[0].dtype == np.float64 and p1[0] == 0.25 and s1[0] == 0.5 and t1 == [1]
    assert diagnose([record]).failures == 1  # replayed, and unexplained: not a crash
