"""Which records the search replays: the ones set aside before replaying (and why), the smallest first."""

from __future__ import annotations

import numpy as np

from adagrad.conformance.diagnosis.records import Record


def _size(r: Record) -> int:
    return sum(int(np.size(p)) for p in r.case.params) * max(1, len(r.trajectory))


#: Tests whose run is not the case alone: the optimizer is swapped for another (constructed with
#: other hyperparameters) through state_dict mid-run, which a record's case does not describe.
HANDOVER_TESTS = ("test_handover_matches_uninterrupted_run", "test_hyperparameter_restored")
#: Non-contiguous layouts in test_layouts' ids (dtype-<grad layout>-<param layout>-...).
STRIDED = ("transposed", "sliced", "expanded")


def _test_name(record: Record) -> tuple[str, list[str]]:
    name, _, params = record.test_id.split("::")[-1].partition("[")
    return name, params.rstrip("]").split("-")


def _handed_over(record: Record) -> bool:
    return _test_name(record)[0] in HANDOVER_TESTS


def _strided(record: Record) -> bool:
    name, params = _test_name(record)
    return name == "test_layout" and any(p in STRIDED for p in params)


#: Records set aside before replaying, and why: their failure is not a variant of the arithmetic.
_SET_ASIDE = (
    (
        _handed_over,
        "of a state_dict handover (the case does not say what was loaded into which optimizer: "
        "state-dict's own failures, not arithmetic)",
    ),
    (
        _strided,
        "on non-contiguous tensors (R29: a layout's own failure; the arithmetic is judged on the contiguous cases)",
    ),
)
