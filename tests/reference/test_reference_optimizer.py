"""Properties of ``ReferenceAdagrad``, the oracle's whole optimizer (groups, state, API).

The functional step is checked elsewhere (test_reference_exact, test_reference_functional);
here each parameter's trajectory is compared with ``adagrad_step`` run on it alone, so these
tests are about bookkeeping: which hyperparameters, which state, which parameters.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference_helpers import finite_arrays, shapes

from adagrad.reference import HYPERPARAMETERS, Param, ReferenceAdagrad, SparseGrad, adagrad_step

hypers = st.fixed_dictionaries(
    {
        "lr": st.floats(1e-4, 1.0),
        "lr_decay": st.one_of(st.just(0.0), st.floats(1e-4, 1.0)),
        "weight_decay": st.one_of(st.just(0.0), st.floats(1e-4, 1.0)),
        "initial_accumulator_value": st.one_of(st.just(0.0), st.floats(1e-4, 10.0)),
        "eps": st.floats(1e-10, 0.5),
        "maximize": st.booleans(),
    }
)


@st.composite
def params_and_grads(draw, n_params=st.integers(1, 3), n_steps=st.integers(1, 5)):  # noqa: B008 - strategies as defaults, hypothesis style
    """A list of (initial data, [grad per step]) for a few parameters of various shapes."""
    k = draw(n_steps)
    out = []
    for _ in range(draw(n_params)):
        shape = draw(shapes(max_dims=2))
        out.append((draw(finite_arrays(shape)), [draw(finite_arrays(shape)) for _ in range(k)]))
    return out


def solo_trajectory(data, grads, hyper):
    """One parameter run alone through the pure step function: its (param, sum, step)."""
    tau = hyper["initial_accumulator_value"]
    step_hyper = {k: v for k, v in hyper.items() if k != "initial_accumulator_value"}
    p, s, t = data, np.full(data.shape, tau), 0
    for g in grads:
        p, s, t = adagrad_step(p, g, s, t, **step_hyper)
    return p, s, t


def run_steps(opt, params, grads_per_param, start, stop):
    for k in range(start, stop):
        for w, grads in zip(params, grads_per_param):
            w.grad = grads[k]
        opt.step()


def assert_state_equal(opt_a, params_a, opt_b, params_b):
    for wa, wb in zip(params_a, params_b):
        np.testing.assert_array_equal(wa.data, wb.data)
        np.testing.assert_array_equal(opt_a.state[wa]["sum"], opt_b.state[wb]["sum"])
        assert opt_a.state[wa]["step"] == opt_b.state[wb]["step"]


# -- R14: eager state ---------------------------------------------------------------------------
@given(shapes_=st.lists(shapes(max_dims=2), min_size=1, max_size=4), tau=st.floats(0.0, 10.0), data=st.data())
def test_state_created_at_construction_R6_R14(shapes_, tau, data):
    """Before any step every parameter has {"step": 0, "sum": tau} (complex: tau + tau j) (R14, R11)."""
    params = []
    for shape in shapes_:
        arr = np.zeros(shape)
        params.append(Param(arr + 1j * arr if data.draw(st.booleans()) else arr))
    opt = ReferenceAdagrad(params, initial_accumulator_value=tau)
    assert len(opt.state) == len(params)
    for w in params:
        state = opt.state[w]
        assert set(state) == {"step", "sum"}
        assert state["step"] == 0
        assert state["sum"].shape == w.data.shape and state["sum"].dtype == w.data.dtype
        fill = complex(tau, tau) if np.iscomplexobj(w.data) else tau
        np.testing.assert_array_equal(state["sum"], np.full(w.data.shape, fill))


# -- R15: missing gradients ---------------------------------------------------------------------
@given(setup=params_and_grads(n_params=st.integers(2, 4)), hyper=hypers, data=st.data())
def test_params_without_grad_are_skipped_R15(setup, hyper, data):
    """A parameter whose grad is None keeps theta, s and t; the others step as if alone (R15)."""
    skip = [data.draw(st.booleans()) for _ in setup]
    params = [Param(d) for d, _ in setup]
    opt = ReferenceAdagrad(params, **hyper)
    for k in range(len(setup[0][1])):
        for w, (_, grads), skipped in zip(params, setup, skip):
            w.grad = None if skipped else grads[k]
        opt.step()
    for w, (d, grads), skipped in zip(params, setup, skip):
        if skipped:
            want = (d, np.full(d.shape, hyper["initial_accumulator_value"]), 0)
        else:
            want = solo_trajectory(d, grads, hyper)
        np.testing.assert_array_equal(w.data, want[0])
        np.testing.assert_array_equal(opt.state[w]["sum"], want[1])
        assert opt.state[w]["step"] == want[2]


def test_zero_grad_is_not_skipped_R15():
    """A zero gradient advances t and moves theta by weight decay only (R15)."""
    w = Param(np.array([2.0]))
    opt = ReferenceAdagrad([w], lr=0.5, weight_decay=0.5, eps=0.0)
    w.grad = np.zeros(1)
    opt.step()
    assert opt.state[w]["step"] == 1
    np.testing.assert_array_equal(opt.state[w]["sum"], [1.0])  # (0 + 0.5 * 2)^2
    np.testing.assert_array_equal(w.data, [1.5])  # 2 - 0.5 * 1 / 1


# -- R12, R13, D1: param groups -----------------------------------------------------------------
@given(setup=params_and_grads(n_params=st.integers(2, 4)), defaults=hypers, overrides=hypers, data=st.data())
def test_per_group_hyperparameters_and_tau_R12_R13_D1(setup, defaults, overrides, data):
    """Each group's hyperparameters, its own tau included (R13; torch ignores it: D1), apply to
    its parameters only; a group without an override uses the constructor's defaults (R12)."""
    names = data.draw(st.lists(st.sampled_from(sorted(overrides)), unique=True))
    own = {name: overrides[name] for name in names}
    params = [Param(d) for d, _ in setup]
    split = data.draw(st.integers(1, len(params) - 1))
    opt = ReferenceAdagrad([{"params": params[:split]}, {"params": params[split:], **own}], **defaults)
    run_steps(opt, params, [g for _, g in setup], 0, len(setup[0][1]))
    for i, (w, (d, grads)) in enumerate(zip(params, setup)):
        hyper = defaults if i < split else {**defaults, **own}
        p, s, t = solo_trajectory(d, grads, hyper)
        np.testing.assert_array_equal(w.data, p)
        np.testing.assert_array_equal(opt.state[w]["sum"], s)
        assert opt.state[w]["step"] == t


def test_per_group_tau_differs_from_constructor_tau_R13_D1():
    """Group tau 4 with constructor tau 0: s starts at 4 for that group's parameter (R13, D1)."""
    a, b = Param(np.zeros(2)), Param(np.zeros(2))
    opt = ReferenceAdagrad([{"params": [a]}, {"params": [b], "initial_accumulator_value": 4.0}])
    np.testing.assert_array_equal(opt.state[a]["sum"], [0.0, 0.0])
    np.testing.assert_array_equal(opt.state[b]["sum"], [4.0, 4.0])


# -- R16: add_param_group -----------------------------------------------------------------------
@given(setup=params_and_grads(n_params=st.just(2)), defaults=hypers, overrides=hypers, data=st.data())
def test_add_param_group_R16(setup, defaults, overrides, data):
    """An added group takes missing hyperparameters from the defaults, gets state at once with
    its own tau (R13, R14) and is updated by later steps like any other (R16)."""
    names = data.draw(st.lists(st.sampled_from(sorted(overrides)), unique=True))
    own = {name: overrides[name] for name in names}
    (d0, g0), (d1, g1) = setup
    a, b = Param(d0), Param(d1)
    opt = ReferenceAdagrad([a], **defaults)
    opt.add_param_group({"params": [b], **own})
    group = opt.param_groups[1]
    for name in HYPERPARAMETERS:
        assert group[name] == own.get(name, defaults[name])
    tau = own.get("initial_accumulator_value", defaults["initial_accumulator_value"])
    assert opt.state[b]["step"] == 0
    np.testing.assert_array_equal(opt.state[b]["sum"], np.full(d1.shape, tau))
    run_steps(opt, [a, b], [g0, g1], 0, len(g0))
    for w, d, grads, hyper in ((a, d0, g0, defaults), (b, d1, g1, {**defaults, **own})):
        p, s, t = solo_trajectory(d, grads, hyper)
        np.testing.assert_array_equal(w.data, p)
        np.testing.assert_array_equal(opt.state[w]["sum"], s)
        assert opt.state[w]["step"] == t


@pytest.mark.parametrize(
    "group, error, message",
    [
        ([Param(np.zeros(1))], TypeError, "param_group must be a dict, but got <class 'list'>"),
        (3, TypeError, "param_group must be a dict, but got <class 'int'>"),
        ("already", ValueError, "some parameters appear in more than one parameter group"),
    ],
    ids=["list", "int", "duplicate"],
)
def test_add_param_group_errors_R16(group, error, message):
    w = Param(np.zeros(1))
    opt = ReferenceAdagrad([w])
    with pytest.raises(error) as info:
        opt.add_param_group({"params": [w]} if group == "already" else group)
    assert str(info.value) == message
    assert len(opt.param_groups) == 1


# -- R17, R18: state_dict -----------------------------------------------------------------------
@given(setup=params_and_grads(n_params=st.integers(1, 3), n_steps=st.integers(2, 6)), hyper=hypers, data=st.data())
def test_state_dict_round_trip_resume_equals_uninterrupted_R17_R18(setup, hyper, data):
    """Save after k steps, load into a fresh optimizer (other hyperparameters), finish: the
    result equals the uninterrupted run bitwise (R18)."""
    n = len(setup[0][1])
    k = data.draw(st.integers(1, n - 1))
    grads = [g for _, g in setup]
    whole = [Param(d) for d, _ in setup]
    opt_whole = ReferenceAdagrad(whole, **hyper)
    run_steps(opt_whole, whole, grads, 0, n)

    first = [Param(d) for d, _ in setup]
    opt_first = ReferenceAdagrad(first, **hyper)
    run_steps(opt_first, first, grads, 0, k)
    saved = opt_first.state_dict()
    resumed = [Param(w.data) for w in first]
    opt_resumed = ReferenceAdagrad(resumed, lr=0.123, initial_accumulator_value=7.0)
    opt_resumed.load_state_dict(saved)
    for name in HYPERPARAMETERS:
        assert opt_resumed.param_groups[0][name] == hyper[name]
    run_steps(opt_resumed, resumed, grads, k, n)
    assert_state_equal(opt_whole, whole, opt_resumed, resumed)


def test_state_dict_layout_and_copies_R17():
    """ids number parameters in group order from 0; step is t, sum shaped like the param; the
    result is a copy (changing it does not change the optimizer)."""
    a, b, c = Param(np.zeros(2)), Param(np.zeros((2, 3))), Param(np.zeros(1))
    opt = ReferenceAdagrad([{"params": [a, b]}, {"params": [c], "lr": 0.5}], initial_accumulator_value=1.0)
    a.grad = np.ones(2)
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["lr"] == 0.01
    assert set(sd["state"]) == {0, 1, 2}
    assert [int(sd["state"][i]["step"]) for i in range(3)] == [1, 0, 0]
    assert sd["state"][1]["sum"].shape == (2, 3)
    np.testing.assert_array_equal(sd["state"][0]["sum"], [2.0, 2.0])
    sd["state"][0]["sum"][:] = 99.0
    sd["param_groups"][0]["lr"] = 99.0
    np.testing.assert_array_equal(opt.state[a]["sum"], [2.0, 2.0])
    assert opt.param_groups[0]["lr"] == 0.01


def test_load_state_dict_without_entry_initialises_from_group_R13_R18():
    """A parameter missing from the saved state starts afresh with its group's tau (R13, R18)."""
    a, b = Param(np.zeros(2)), Param(np.zeros(2))
    opt = ReferenceAdagrad([a, b])
    sd = {
        "state": {0: {"step": 3, "sum": np.array([1.0, 2.0])}},
        "param_groups": [{**opt.state_dict()["param_groups"][0], "initial_accumulator_value": 5.0}],
    }
    opt.load_state_dict(sd)
    assert opt.state[a]["step"] == 3 and opt.state[b]["step"] == 0
    np.testing.assert_array_equal(opt.state[a]["sum"], [1.0, 2.0])
    np.testing.assert_array_equal(opt.state[b]["sum"], [5.0, 5.0])


@pytest.mark.parametrize(
    "groups, message",
    [
        ([[0], [1]], "loaded state dict has a different number of parameter groups"),
        ([[0]], "loaded state dict contains a parameter group that doesn't match the size of optimizer's group"),
    ],
    ids=["group-count", "group-size"],
)
def test_load_state_dict_errors_R18(groups, message):
    opt = ReferenceAdagrad([Param(np.zeros(1)), Param(np.zeros(1))])
    template = opt.state_dict()["param_groups"][0]
    sd = {"state": {}, "param_groups": [{**template, "params": ids} for ids in groups]}
    with pytest.raises(ValueError) as info:
        opt.load_state_dict(sd)
    assert str(info.value) == message


# -- R8: tensor lr ------------------------------------------------------------------------------
@given(lr=st.floats(1e-4, 1.0), shape=st.sampled_from([(), (1,), (1, 1)]), setup=params_and_grads(n_params=st.just(1)))
def test_one_element_array_lr_is_its_value_R8(lr, shape, setup):
    """lr given as a 1-element array behaves as its value (R8)."""
    ((d, grads),) = setup
    a, b = Param(d), Param(d)
    opt_a, opt_b = ReferenceAdagrad([a], lr=np.full(shape, lr)), ReferenceAdagrad([b], lr=lr)
    run_steps(opt_a, [a], [grads], 0, len(grads))
    run_steps(opt_b, [b], [grads], 0, len(grads))
    assert_state_equal(opt_a, [a], opt_b, [b])


# -- R31: hyperparameters are live --------------------------------------------------------------
@given(
    setup=params_and_grads(n_params=st.just(1), n_steps=st.integers(2, 5)),
    lrs=st.lists(st.floats(1e-4, 1.0), min_size=5, max_size=5),
)
def test_changed_group_lr_applies_at_next_step_R31(setup, lrs):
    """Setting param_groups[0]["lr"] before each step uses that lr for that step (R31)."""
    ((d, grads),) = setup
    w = Param(d)
    opt = ReferenceAdagrad([w])
    p, s, t = d, np.zeros(d.shape), 0
    for g, lr in zip(grads, lrs):
        opt.param_groups[0]["lr"] = lr
        w.grad = g
        opt.step()
        p, s, t = adagrad_step(p, g, s, t, lr=lr)
    np.testing.assert_array_equal(w.data, p)
    np.testing.assert_array_equal(opt.state[w]["sum"], s)


# -- R22: zero_grad -----------------------------------------------------------------------------
@pytest.mark.parametrize("set_to_none", [None, True, False], ids=["default", "none", "zeros"])
def test_zero_grad_R22(set_to_none):
    """Default and True: grads become None; False: zeros shaped like the param (R22)."""
    a, b, c = Param(np.ones(2)), Param(np.ones((2, 2))), Param(np.ones(3))
    opt = ReferenceAdagrad([a, b, c])
    a.grad, b.grad = np.full(2, 3.0), np.full((2, 2), -1.0)
    opt.zero_grad() if set_to_none is None else opt.zero_grad(set_to_none=set_to_none)
    if set_to_none is False:
        np.testing.assert_array_equal(a.grad, np.zeros(2))
        np.testing.assert_array_equal(b.grad, np.zeros((2, 2)))
    else:
        assert a.grad is None and b.grad is None
    assert c.grad is None
    np.testing.assert_array_equal(a.data, np.ones(2))  # params untouched


# -- R23: step(closure) -------------------------------------------------------------------------
def test_step_with_closure_calls_it_once_and_returns_its_value_R23():
    w = Param(np.array([1.0]))
    opt = ReferenceAdagrad([w], lr=0.5, eps=0.0)
    calls = []

    def closure():
        calls.append(1)
        w.grad = np.array([2.0])
        return "loss"

    assert opt.step(closure) == "loss"
    assert calls == [1]
    np.testing.assert_array_equal(w.data, [0.5])  # the closure's gradient was used
    w.grad = np.array([1.0])
    assert opt.step() is None


# -- R10 through the optimizer; R26 ------------------------------------------------------------
def test_optimizer_sparse_with_weight_decay_raises_R10():
    w = Param(np.zeros(3))
    opt = ReferenceAdagrad([w], weight_decay=0.1)
    w.grad = SparseGrad(np.array([[0]]), np.array([1.0]), (3,))
    with pytest.raises(RuntimeError, match="^weight_decay option is not compatible with sparse gradients$"):
        opt.step()


@given(setup=params_and_grads(), hyper=hypers)
def test_optimizer_step_leaves_grads_unchanged_R26(setup, hyper):
    params = [Param(d) for d, _ in setup]
    opt = ReferenceAdagrad(params, **hyper)
    for w, (_, grads) in zip(params, setup):
        w.grad = grads[0]
    before = [w.grad.copy() for w in params]
    opt.step()
    for w, g in zip(params, before):
        np.testing.assert_array_equal(w.grad, g)
