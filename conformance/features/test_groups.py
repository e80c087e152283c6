"""Param groups (R12, R13, R16): own hyperparameters, per-group tau, add_param_group mid-run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.features import feature
from adagrad.conformance.harness import Case, check_case
from adagrad.conformance.strategies import arrays, hyperparameters, shapes

pytestmark = feature("groups")


@st.composite
def group_cases(draw, *, dtype: str, same_tau: bool, added_at: int | None = None) -> Case:
    n_groups = draw(st.integers(2, 3))
    hypers = [draw(hyperparameters()) for _ in range(n_groups)]
    if same_tau:  # keep D1 out of tests that are about something else
        for h in hypers:
            h["initial_accumulator_value"] = hypers[0]["initial_accumulator_value"]
    else:
        taus = draw(st.lists(st.floats(0.01, 2.0), min_size=n_groups, max_size=n_groups, unique=True))
        for h, tau in zip(hypers, taus):
            h["initial_accumulator_value"] = tau
    shp = [draw(shapes(max_elements=8)) for _ in range(n_groups)]
    n_steps = draw(st.integers(2, 5))
    groups = [{**h, "params": [i]} for i, h in enumerate(hypers)]
    if added_at is not None:
        groups[-1]["added_at"] = min(added_at, n_steps - 1)
    # With one tau everywhere, the constructor gets it too: torch uses the constructor's (D1).
    options = {"initial_accumulator_value": hypers[0]["initial_accumulator_value"]} if same_tau else {}
    return Case(
        dtype=dtype,
        params=[draw(arrays(dtype=dtype, shape=s, kind="param")) for s in shp],
        grads=[[draw(arrays(dtype=dtype, shape=s, kind="grad")) for s in shp] for _ in range(n_steps)],
        groups=groups,
        options=options,
    )


@given(data=st.data())
def test_groups_own_hyperparameters(target, record_ulps, data):
    """R12: each group's lr, lr_decay, weight_decay, eps and maximize apply to its params only."""
    check_case(target, data.draw(group_cases(dtype="float64", same_tau=True)), record_ulps, what="groups")


#: (default tau, group taus): a fixed table, not drawn, since torch fails this by design (D1)
#: and shrinking a known failure would only cost time.
PER_GROUP_TAU = [(0.0, (0.5, 2.0)), (1.0, (1.0, 0.25)), (0.1, (0.0, 3.0, 0.1))]


@pytest.mark.parametrize(("default_tau", "taus"), PER_GROUP_TAU, ids=["default0", "default1", "three-groups"])
def test_per_group_initial_accumulator_value(target, record_ulps, default_tau, taus):
    """R13 (D1): a param's accumulator starts at its own group's initial_accumulator_value."""
    groups = [dict(lr=0.5, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=t, eps=1e-10, maximize=False, params=[i])
              for i, t in enumerate(taus)]
    params = [np.array([1.0, -2.0]) for _ in taus]
    grads = [[np.array([0.5, 1.5]) for _ in taus] for _ in range(2)]
    case = Case(dtype="float64", params=params, grads=grads, groups=groups, options={"initial_accumulator_value": default_tau})
    check_case(target, case, record_ulps, what="per-group tau")


@given(data=st.data())
def test_add_param_group_mid_run(target, record_ulps, data):
    """R16: a group added after some steps starts its own state and hyperparameters then."""
    case = data.draw(group_cases(dtype="float64", same_tau=True, added_at=data.draw(st.integers(1, 3))))
    check_case(target, case, record_ulps, what="add_param_group")


def test_add_param_group_rejects_duplicates(target):
    """R16: a parameter already in a group raises ValueError."""
    p = torch.zeros(2, requires_grad=True)
    opt = target.make([p])
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [p]})


def test_add_param_group_rejects_non_dict(target):
    """R16: anything but a dict raises TypeError."""
    opt = target.make([torch.zeros(2, requires_grad=True)])
    with pytest.raises(TypeError):
        opt.add_param_group([torch.zeros(2, requires_grad=True)])


def test_add_param_group_fills_defaults(target):
    """R16: missing hyperparameters of an added group come from the constructor's defaults."""
    opt = target.make([torch.zeros(2, requires_grad=True)], lr=0.25, lr_decay=0.5, eps=1e-3, weight_decay=0.125)
    opt.add_param_group({"params": [torch.zeros(2, requires_grad=True)], "lr": 0.5})
    added = opt.param_groups[1]
    assert (added["lr"], added["lr_decay"], added["eps"], added["weight_decay"]) == (0.5, 0.5, 1e-3, 0.125)
