"""The diagnosis names the variant a target computes (issue 14).

- Every variant of the catalogue, played as the target (its own trajectories on fixed and drawn
  cases), is diagnosed as itself, fitted parameters included.
- Every numerical mutant of the zoo (tests/conformance/zoo/), run through the harness, is
  diagnosed as the rule it breaks: R1 (no square root), R3 (lr_decay), R4 (maximize), R5
  (weight decay), R6 (tau), R7 (eps), R9 (sparse), R11 (complex), R15 (missing grads), R2
  (shared counter), R25 (non-finite), R31 (lr edits).
- torch.optim.Adagrad is never "explained": its records are within the error model.
- R1 replayed without a variant is the oracle, bit for bit, tolerances included.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from diagnosis_helpers import drawn_cases, fixed_cases, load_zoo, target_records

from adagrad.conformance.diagnosis import CATALOGUE, Record, Semantics, diagnose, replay, semantics_of, trajectory
from adagrad.conformance.engine.harness import Case, clone_case, run_oracle
from adagrad.conformance.engine.target import Target

CASES = fixed_cases() + drawn_cases(seed=7)
#: Failures replayed per diagnosis in these tests (the smallest): enough to tell variants apart.
MAX_RECORDS = 8


def _records(sem: Semantics) -> list[Record]:
    return [Record(c, trajectory(c, sem), f"case{i}") for i, c in enumerate(CASES)]


@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_spec_semantics_replay_the_oracle_R1(case):
    """Semantics() is R1: values, step counts and tolerances equal harness.run_oracle's bit for bit."""
    for got, want in zip(replay(case, Semantics()), run_oracle(case), strict=True):
        params, sums, steps, pbounds, sbounds = want
        for i in range(len(case.params)):
            assert np.array_equal(got.params[i], params[i], equal_nan=True)
            assert (got.sums[i] is None) == (sums[i] is None)
            if sums[i] is not None:
                assert np.array_equal(got.sums[i], sums[i], equal_nan=True)
                assert np.array_equal(got.param_bounds[i], pbounds[i], equal_nan=True)
                assert np.array_equal(got.sum_bounds[i], sbounds[i], equal_nan=True)
        assert got.steps == steps


@pytest.mark.parametrize("variant", CATALOGUE, ids=[v.name for v in CATALOGUE])
def test_variant_played_as_target_is_diagnosed_as_itself(variant):
    """A target computing exactly a variant: that variant is the first explanation, its parameter refitted."""
    records = _records(variant.semantics())
    diagnosis = diagnose(records, max_records=MAX_RECORDS)
    assert diagnosis.failures > 0, f"no case shows {variant.name}: the helper cases must exercise it"
    best = diagnosis.explanation
    assert best is not None, diagnosis.summary()
    assert best.variants == [variant.name], diagnosis.summary()
    assert best.explained == best.failures == diagnosis.failures
    assert set(variant.rules) <= set(best.rules)
    if variant.fit is not None:
        value = best.fitted[variant.name]
        if isinstance(value, str):
            assert value == variant.fit.default
        else:
            assert math.isclose(value, variant.fit.default, rel_tol=1e-6), diagnosis.summary()
    assert diagnosis.summary().startswith(f"explained by: {variant.label}:")


#: Each numerical mutant of the zoo and the variant (and so the rule) it must be diagnosed as.
ZOO = {
    "EpsInsideSqrt": "eps-inside-sqrt",  # R7
    "LrDecayOffByOne": "lr-decay-off-by-one",  # R3
    "WeightDecayNotAccumulated": "weight-decay-not-accumulated",  # R5
    "MaximizeAfterWeightDecay": "maximize-after-weight-decay",  # R4
    "MaximizeIgnored": "maximize-ignored",  # R4
    "AccumulatorStartsAtZero": "fixed-initial-accumulator",  # R6, fitted tau 0
    "NoSquareRoot": "no-square-root",  # R1
    "StepAdvancesWithoutGrad": "step-advances-without-grad",  # R15
    "SharedStepCounter": "shared-step-counter",  # R2
    "ClampsNonFinite": "nonfinite-replaced",  # R25, fitted c = 1
    "LrReadOnce": "lr-edits-ignored",  # R31
    "SparseSquaresBeforeSumming": "sparse-squares-summed",  # R9
    "ComplexSharedAccumulator": "complex-shared-accumulator",  # R11
}


@pytest.fixture(scope="module")
def zoo():
    return load_zoo()


@pytest.mark.parametrize("mutant", sorted(ZOO))
def test_zoo_mutant_is_diagnosed_as_the_rule_it_breaks(zoo, mutant):
    """The zoo's numerical mutants (torch arithmetic, not the variant's): named by the rule they break."""
    cases = fixed_cases(dense_only=mutant not in ("SparseSquaresBeforeSumming", "ComplexSharedAccumulator"))
    if mutant == "ComplexSharedAccumulator":  # the mutant leaves weight decay out for complex parameters
        cases = [c for c in cases if c.dtype.startswith("complex")]
        for c in cases:
            c.groups[0]["weight_decay"] = 0.0
    records = target_records(Target(f"zoo:{mutant}", getattr(zoo, mutant)), cases)
    diagnosis = diagnose(records, max_records=MAX_RECORDS)
    assert diagnosis.explanation is not None, diagnosis.summary()
    assert diagnosis.explanation.variants == [ZOO[mutant]], diagnosis.summary()
    if mutant == "AccumulatorStartsAtZero":
        assert diagnosis.explanation.fitted[ZOO[mutant]] == 0.0
    if mutant == "ClampsNonFinite":
        assert diagnosis.explanation.fitted[ZOO[mutant]] == 1.0


def test_torch_is_never_explained():
    """torch.optim.Adagrad's records are within the error model: nothing to explain (R1, R30)."""
    records = target_records(Target("torch.optim:Adagrad", torch.optim.Adagrad), fixed_cases() + drawn_cases(seed=3))
    assert len(records) >= 10
    diagnosis = diagnose(records)
    assert diagnosis.failures == 0 and diagnosis.explained_by == [] and diagnosis.partial == []
    assert diagnosis.summary().startswith("diagnosis: nothing to explain")


def test_unknown_deviation_is_not_explained():
    """A deviation outside the catalogue (the update uses |g|: the sign is lost) is named as unexplained."""
    records = []
    for i, case in enumerate(CASES[:6]):
        flipped = [[None if g is None else np.abs(g) for g in step] for step in case.grads]
        records.append(Record(case, trajectory(clone_case(case, grads=flipped), Semantics()), f"case{i}"))
    diagnosis = diagnose(records, max_records=MAX_RECORDS)
    assert diagnosis.failures > 0
    assert diagnosis.explained_by == []
    assert diagnosis.summary().startswith("no known variant explains these failures")


@pytest.mark.parametrize(
    "names",
    [
        ("eps-inside-sqrt", "decoupled-weight-decay"),  # Keras 3 on float32 parameters (R7, R5)
        ("eps-inside-sqrt", "decoupled-weight-decay", "lr-float32"),  # Keras 3 on float64 parameters (R30 too)
        ("eps-inside-sqrt", "decoupled-weight-decay", "lr-wd-tau-float32"),  # Keras 3 on TensorFlow, float64
        ("attributes-float32", "weight-decay-always-added"),  # ONNX's reference Adagrad (R30, R5)
        ("eps-inside-sqrt", "guard-zero", "subnormals-flushed"),  # optax on XLA's CPU (R7, R30)
    ],
    ids=["pair", "pair-with-modifier", "tf-keras", "onnx", "optax"],
)
def test_combination_of_variants_is_found(names):
    """A combination is found when no single variant explains everything; each part is named."""
    records = _records(semantics_of(*names))
    diagnosis = diagnose(records)
    assert diagnosis.explanation is not None, diagnosis.summary()
    assert sorted(diagnosis.explanation.variants) == sorted(names), diagnosis.summary()
    assert diagnosis.summary().splitlines()[0].count(" + ") == len(names) - 1


def test_search_stops_at_its_budget():
    """A zero budget replays nothing and says the search was cut short; it never claims an explanation."""
    diagnosis = diagnose(_records(semantics_of("eps-inside-sqrt")), budget_s=0.0)
    assert diagnosis.explained_by == [] and not diagnosis.complete
    assert diagnosis.summary().startswith("diagnosis: not done: the time budget ran out")


@pytest.mark.parametrize("variant", CATALOGUE, ids=[v.name for v in CATALOGUE])
def test_zero_dimensional_parameters_replay_under_every_variant(variant):
    """A 0-d parameter (shape ()) replays under every variant and is diagnosed without an exception
    (a 0-d value rounded to float32 once became a Python float: "'float' object has no attribute 'shape'")."""
    case = Case(
        dtype="float64",
        params=[np.array(0.7), np.array([0.25, -1.5])],
        grads=[[np.array(0.3), np.array([0.5, -0.25])], [np.array(-0.2), np.array([0.125, 1.0])]],
        groups=[
            dict(
                lr=0.1,
                lr_decay=0.1,
                weight_decay=0.05,
                initial_accumulator_value=0.1,
                eps=1e-3,
                maximize=False,
                params=[0, 1],
            )
        ],
    )
    steps = trajectory(case, variant.semantics())
    assert [np.shape(p) for p in steps[-1][0]] == [(), (2,)]
    diagnosis = diagnose([Record(case, steps, "zero-d")])
    assert diagnosis.failures <= 1


def test_state_dict_handover_records_are_set_aside():
    """A handover swaps the optimizer mid-run, which the case does not describe: never replayed, said in a note."""
    records = _records(semantics_of("eps-inside-sqrt"))[:4]
    handover = [
        Record(r.case, r.trajectory, f"test_state_dict.py::test_handover_matches_uninterrupted_run[{i}]")
        for i, r in enumerate(records)
    ]
    diagnosis = diagnose(records + handover, max_records=MAX_RECORDS)
    assert diagnosis.set_aside == len(handover)
    assert diagnosis.replayed == len(records)
    assert any("state_dict handover" in n for n in diagnosis.notes)
    assert "larger record(s) not replayed" not in diagnosis.summary()


def test_strided_layout_records_are_set_aside():
    """test_layout's non-contiguous cases fail by layout (R29), not by arithmetic: left out with a note;
    its contiguous-contiguous case is replayed like any other."""
    records = _records(semantics_of("eps-inside-sqrt"))[:3]
    ids = [
        "float32-transposed-contiguous-for-loop",
        "float64-sliced-expanded-for-loop",
        "float32-contiguous-contiguous-for-loop",
    ]
    laid = [Record(r.case, r.trajectory, f"test_layouts.py::test_layout[{i}]") for r, i in zip(records, ids)]
    diagnosis = diagnose(laid, max_records=MAX_RECORDS)
    assert diagnosis.set_aside == 2 and diagnosis.replayed == 1
    assert any("non-contiguous" in n for n in diagnosis.notes)
