"""Every combination of lr_decay, weight_decay, tau, maximize on/off and eps tiny/large/zero (R3-R7),
on every path, in float64 and float32; each one alone in float16 and bfloat16; zero gradients in
every eps and tau regime.

The grids are parametrized (every corner runs at every profile); values, shapes and gradient
sequences are drawn.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.features import feature
from adagrad.conformance.harness import check_case, clone_case
from adagrad.conformance.strategies import EPS, cases, hyperparameters, lr_only, path_params

pytestmark = [feature("hyperparameters"), pytest.mark.spec("R3", "R4", "R5", "R6", "R7")]

GRID = [
    pytest.param(dict(lr_decay=d, weight_decay=w, initial_accumulator_value=t, eps=e, maximize=m),
                 id=f"decay{int(d)}-wd{int(w)}-tau{int(t)}-eps_{e}-max{int(m)}")
    for d, w, t, e, m in itertools.product([False, True], [False, True], [False, True], sorted(EPS), [False, True])
]


@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("flags", GRID)
@given(data=st.data())
def test_flag_combination(target, record_ulps, flags, options, data):
    """lr_decay (R3), maximize (R4), weight_decay (R5), tau (R6), eps (R7): a 1-6 step float64 trajectory."""
    case = data.draw(cases(dtype="float64", hyper=hyperparameters(**flags), steps=(1, 6), options=options))
    check_case(target, case, record_ulps, what=f"float64 {flags}")


def _pairwise(factors: dict[str, list]) -> list[dict]:
    """A small set of rows in which every pair of values of any two factors appears (greedy, deterministic)."""
    names = list(factors)
    rows = [dict(zip(names, values)) for values in itertools.product(*factors.values())]

    def pairs(row: dict) -> set:
        return {(a, repr(row[a]), b, repr(row[b])) for a, b in itertools.combinations(names, 2)}

    uncovered = set().union(*(pairs(r) for r in rows))
    chosen = []
    while uncovered:
        best = max(rows, key=lambda r: len(pairs(r) & uncovered))
        chosen.append(best)
        uncovered -= pairs(best)
    return chosen


#: float32: every pair of (flag value, flag value) and (flag value, path) at least once.
_PATHS = {p.id: p for p in path_params()}
PAIRWISE_FLOAT32 = [
    pytest.param(
        {k: row[k] for k in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize")},
        row["path"].values[0],
        id=f"decay{int(row['lr_decay'])}-wd{int(row['weight_decay'])}-tau{int(row['initial_accumulator_value'])}"
           f"-eps_{row['eps']}-max{int(row['maximize'])}-{row['path'].id}",
        marks=row["path"].marks,
    )
    for row in _pairwise({"lr_decay": [False, True], "weight_decay": [False, True], "initial_accumulator_value": [False, True],
                          "eps": sorted(EPS), "maximize": [False, True], "path": list(_PATHS.values())})
]


@pytest.mark.parametrize(("flags", "options"), PAIRWISE_FLOAT32)
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


@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("which", list(ALONE))
@given(data=st.data())
def test_one_hyperparameter_low_precision(target, record_ulps, which, dtype, options, data):
    """Each hyperparameter on its own in float16 and bfloat16, within that dtype's model."""
    case = data.draw(cases(dtype=dtype, hyper=_alone(which), steps=(1, 6), options=options))
    check_case(target, case, record_ulps, what=f"{dtype} {which}")


@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("tau", [False, True], ids=["tau0", "tau1"])
@pytest.mark.parametrize("eps", sorted(EPS), ids=[f"eps_{e}" for e in sorted(EPS)])
@given(data=st.data())
def test_zero_gradient(target, record_ulps, eps, tau, options, data):
    """R7: a zero gradient in every eps and tau regime; on a zero accumulator with eps = 0 it gives
    NaN (0/0), with eps > 0 it leaves the param unchanged (then non-zero gradients follow)."""
    case = data.draw(cases(dtype="float64", hyper=hyperparameters(initial_accumulator_value=tau, eps=eps, lr_decay=None,
                                                                   weight_decay=False, maximize=None),
                           steps=(2, 4), options=options))
    grads = [[g * 0 for g in case.grads[0]], *case.grads[1:]]
    check_case(target, clone_case(case, grads=grads), record_ulps, what=f"zero gradient, eps {eps}, tau {int(tau)}")
