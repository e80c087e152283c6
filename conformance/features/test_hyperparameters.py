"""lr_decay, weight_decay, tau, maximize on/off and eps tiny/large/zero (R3-R7), on every path.

float64: all 48 combinations on the for-loop, and on foreach and fused every combination of any
three settings (path included); float32: every pair of settings; float16 and bfloat16: each
hyperparameter alone; zero gradients in every eps and tau regime (tau = 0 with eps = 0: NaN).
The grids are parametrized (every corner runs at every profile, quick included); values, shapes
and gradient sequences are drawn. Covering sets keep the quick profile inside its time budget.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.engine.harness import check_case, clone_case
from adagrad.conformance.engine.strategies import EPS, cases, hyperparameters, lr_only, path_params
from adagrad.conformance.features import feature

pytestmark = [feature("hyperparameters"), pytest.mark.spec("R3", "R4", "R5", "R6", "R7")]

GRID = [
    pytest.param(
        dict(lr_decay=d, weight_decay=w, initial_accumulator_value=t, eps=e, maximize=m),
        id=f"decay{int(d)}-wd{int(w)}-tau{int(t)}-eps_{e}-max{int(m)}",
    )
    for d, w, t, e, m in itertools.product([False, True], [False, True], [False, True], sorted(EPS), [False, True])
]


def _covering(factors: dict[str, list], strength: int) -> list[dict]:
    """A small set of rows in which every combination of values of any ``strength`` factors
    appears at least once (greedy, deterministic: the same rows, in the same order, every run)."""
    names = list(factors)
    rows = [dict(zip(names, values)) for values in itertools.product(*factors.values())]

    def tuples(row: dict) -> set:
        return {tuple((n, repr(row[n])) for n in combo) for combo in itertools.combinations(names, strength)}

    uncovered = set().union(*(tuples(r) for r in rows))
    chosen = []
    while uncovered:
        best = max(rows, key=lambda r: len(tuples(r) & uncovered))
        chosen.append(best)
        uncovered -= tuples(best)
    return chosen


_PATHS = {p.id: p for p in path_params()}


def _with_path(row: dict, values: tuple, ident: str):
    """A pytest param of ``values`` and the options of ``row``'s path, with that path's marks."""
    path = _PATHS[row["path"]]
    return pytest.param(*values, path.values[0], id=f"{ident}-{row['path']}", marks=path.marks)


_FLAGS = {
    "lr_decay": [False, True],
    "weight_decay": [False, True],
    "initial_accumulator_value": [False, True],
    "eps": sorted(EPS),
    "maximize": [False, True],
}


def _flag_rows(paths: list[str], strength: int | None) -> list:
    """pytest params (flags, path options): the full product (strength None) or a covering set."""
    factors = {**_FLAGS, "path": paths}
    rows = (
        [dict(zip(factors, v)) for v in itertools.product(*factors.values())]
        if strength is None
        else _covering(factors, strength)
    )
    return [
        _with_path(
            row,
            ({k: row[k] for k in _FLAGS},),
            f"decay{int(row['lr_decay'])}-wd{int(row['weight_decay'])}-tau{int(row['initial_accumulator_value'])}"
            f"-eps_{row['eps']}-max{int(row['maximize'])}",
        )
        for row in rows
    ]


#: float64: all 48 combinations on the for-loop; on foreach and fused every combination of any
#: three settings (flags and path) at least once.
FLOAT64 = _flag_rows(["for-loop"], None) + _flag_rows(["foreach", "fused"], 3)
#: float32: every pair of settings (flags and path, all three paths) at least once.
FLOAT32 = _flag_rows(list(_PATHS), 2)


@pytest.mark.parametrize(("flags", "options"), FLOAT64)
@given(data=st.data())
def test_flag_combination(target, record_ulps, flags, options, data):
    """lr_decay (R3), maximize (R4), weight_decay (R5), tau (R6), eps (R7): a 1-6 step float64 trajectory."""
    case = data.draw(cases(dtype="float64", hyper=hyperparameters(**flags), steps=(1, 6), options=options))
    check_case(target, case, record_ulps, what=f"float64 {flags}")


@pytest.mark.parametrize(("flags", "options"), FLOAT32)
@given(data=st.data())
def test_flag_combination_float32(target, record_ulps, flags, options, data):
    """The flags in float32, on every path: each pair of settings at least once (a covering set)."""
    case = data.draw(cases(dtype="float32", hyper=hyperparameters(**flags), steps=(1, 6), options=options))
    check_case(target, case, record_ulps, what=f"float32 {flags}")


#: One hyperparameter away from its default at a time: (its key, the flags that set it).
ALONE = {
    "lr_decay": ("lr_decay", dict(lr_decay=True)),
    "weight_decay": ("weight_decay", dict(weight_decay=True)),
    "tau": ("initial_accumulator_value", dict(initial_accumulator_value=True)),
    "eps_large": ("eps", dict(eps="large")),
    "eps_zero": ("eps", dict(eps="zero")),
    "maximize": ("maximize", dict(maximize=True)),
}


def _alone(which: str) -> st.SearchStrategy[dict]:
    """A drawn lr and one hyperparameter set; the others absent (left to the target's default)."""
    key, flags = ALONE[which]
    return st.tuples(lr_only(), hyperparameters(**flags)).map(lambda t: {**t[0], key: t[1][key]})


LOW = [
    _with_path(r, (r["which"], r["dtype"]), f"{r['which']}-{r['dtype']}")
    for r in _covering({"which": list(ALONE), "dtype": ["float16", "bfloat16"], "path": list(_PATHS)}, 2)
]


@pytest.mark.parametrize(("which", "dtype", "options"), LOW)
@given(data=st.data())
def test_one_hyperparameter_low_precision(target, record_ulps, which, dtype, options, data):
    """Each hyperparameter on its own in float16 and bfloat16, within that dtype's model."""
    case = data.draw(cases(dtype=dtype, hyper=_alone(which), steps=(1, 6), options=options))
    check_case(target, case, record_ulps, what=f"{dtype} {which}")


ZERO = [
    _with_path(r, (r["eps"], r["tau"]), f"eps_{r['eps']}-tau{int(r['tau'])}")
    for r in _covering({"eps": sorted(EPS), "tau": [False, True], "path": list(_PATHS)}, 2)
]


@pytest.mark.parametrize(("eps", "tau", "options"), ZERO)
@given(data=st.data())
def test_zero_gradient(target, record_ulps, eps, tau, options, data):
    """R7: a zero gradient in every eps and tau regime; on a zero accumulator with eps = 0 it gives
    NaN (0/0), with eps > 0 it leaves the param unchanged (then non-zero gradients follow)."""
    case = data.draw(
        cases(
            dtype="float64",
            hyper=hyperparameters(
                initial_accumulator_value=tau, eps=eps, lr_decay=False, weight_decay=False, maximize=False
            ),
            steps=(2, 4),
            options=options,
        )
    )
    grads = [[g * 0 for g in case.grads[0]], *case.grads[1:]]
    check_case(target, clone_case(case, grads=grads), record_ulps, what=f"zero gradient, eps {eps}, tau {int(tau)}")
