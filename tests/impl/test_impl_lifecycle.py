"""``adagrad.impl.Adagrad`` over a training run's life: deepcopy and pickle of a stepped
optimizer, state_dicts in every layout torch 2.x wrote, states missing an entry, and the
fallbacks for torch versions that lack a kernel, an op or a device list (issue 12)."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest
import torch

import adagrad.impl.common as common
import adagrad.impl.functional as functional
from adagrad.impl import Adagrad, adagrad, targets
from adagrad.impl.fused_cpu import fused_cpu_adagrad

FACTORIES = [("for_loop", targets.for_loop), ("foreach", targets.foreach), ("fused", targets.fused)]
IDS = [n for n, _ in FACTORIES]
MAKERS = [f for _, f in FACTORIES]
HYPER = dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1, eps=1e-8)


@pytest.fixture(autouse=True)
def _torch_cpu_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    # targets.fused picks the (slow) Triton interpreter when TRITON_INTERPRET is set.
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)


def _params(seed: int = 0, n: int = 3) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(4, 5, generator=gen).requires_grad_() for _ in range(n)]


def _steps(opt: torch.optim.Optimizer, params: list[torch.Tensor], ks: range) -> None:
    for k in ks:
        gen = torch.Generator().manual_seed(100 + k)
        for p in params:
            p.grad = torch.randn(p.shape, generator=gen).to(p.dtype)
        opt.step()


def _assert_same_run(a: torch.optim.Optimizer, b: torch.optim.Optimizer) -> None:
    """Bitwise equal parameters, sums and steps, parameter by parameter in group order."""
    pa = [p for g in a.param_groups for p in g["params"]]
    pb = [p for g in b.param_groups for p in g["params"]]
    assert len(pa) == len(pb)
    for x, y in zip(pa, pb):
        assert x is not y
        assert torch.equal(x, y)
        assert torch.equal(a.state[x]["sum"], b.state[y]["sum"])
        assert a.state[x]["step"].item() == b.state[y]["step"].item()


# --- deepcopy and pickle --------------------------------------------------------------------------

ROUND_TRIPS = [
    ("deepcopy", copy.deepcopy),
    ("pickle", lambda opt: pickle.loads(pickle.dumps(opt))),
]


@pytest.mark.parametrize("trip", [f for _, f in ROUND_TRIPS], ids=[n for n, _ in ROUND_TRIPS])
@pytest.mark.parametrize("factory", MAKERS, ids=IDS)
def test_round_trip_of_stepped_optimizer_then_step(factory: Any, trip: Any) -> None:
    """A copy of a stepped optimizer (with its own copies of the parameters) steps exactly as
    the original does; fused_backend and GradScaler support survive."""
    params = _params()
    opt = factory(params, **HYPER)
    opt.fused_backend = "cpu"  # not the default, so that keeping it is visible
    _steps(opt, params, range(2))
    twin = trip(opt)
    assert twin.fused_backend == "cpu"
    assert getattr(twin, "_step_supports_amp_scaling", False) == getattr(opt, "_step_supports_amp_scaling", False)
    _steps(opt, params, range(2, 4))
    _steps(twin, twin.param_groups[0]["params"], range(2, 4))
    _assert_same_run(opt, twin)


def test_pickle_without_fused_backend_loads() -> None:
    """An optimizer pickled before fused_backend was pickled gets the default and steps."""
    params = _params()
    opt = Adagrad(params, **HYPER)
    _steps(opt, params, range(1))
    state = copy.deepcopy(opt.__getstate__())
    del state["fused_backend"]
    twin = Adagrad.__new__(Adagrad)
    twin.__setstate__(state)
    assert twin.fused_backend == "auto"
    _steps(twin, twin.param_groups[0]["params"], range(1, 2))
    assert twin.state[twin.param_groups[0]["params"][0]]["step"].item() == 2


@pytest.mark.parametrize("bad", ["gpu", "", None, 1])
def test_fused_backend_is_validated(bad: Any) -> None:
    """fused_backend names a kernel choice, however it is set."""
    opt = Adagrad(_params(), fused=True)
    with pytest.raises(ValueError, match="fused_backend must be one of"):
        opt.fused_backend = bad
    assert opt.fused_backend == "auto"
    state = opt.__getstate__()
    state["fused_backend"] = bad
    with pytest.raises(ValueError, match="fused_backend must be one of"):
        Adagrad.__new__(Adagrad).__setstate__(state)
    p, g = torch.zeros(2), torch.ones(2)
    with pytest.raises(ValueError, match="fused_backend must be one of"):
        adagrad([p], [g], [torch.zeros(2)], [torch.zeros((), dtype=torch.float64)], lr=0.1,
                weight_decay=0.0, lr_decay=0.0, eps=0.0, maximize=False, fused=True,
                fused_backend=bad)  # fmt: skip


# --- state_dict layouts ---------------------------------------------------------------------------

#: Group keys dropped from a torch 2.13 state_dict to get the layouts older torch versions wrote.
OLD_LAYOUTS = [
    ("torch2.0-2.3_no_fused", ("fused",)),
    ("no_differentiable_no_fused", ("differentiable", "fused")),
    ("no_foreach_maximize_differentiable_fused", ("foreach", "maximize", "differentiable", "fused")),
    ("no_foreach", ("foreach",)),
    ("no_maximize", ("maximize",)),
    ("no_differentiable", ("differentiable",)),
]


def _saved_by_torch(**hyper: Any) -> tuple[dict[str, Any], list[torch.Tensor]]:
    params = _params()
    opt = torch.optim.Adagrad(params, foreach=False, **hyper)
    _steps(opt, params, range(2))
    return copy.deepcopy(opt.state_dict()), [p.detach().clone() for p in params]


@pytest.mark.parametrize("step_as_float", [False, True], ids=["step_tensor", "step_float"])
@pytest.mark.parametrize("dropped", [d for _, d in OLD_LAYOUTS], ids=[n for n, _ in OLD_LAYOUTS])
def test_old_state_dict_layouts_resume_as_torch(dropped: tuple[str, ...], step_as_float: bool) -> None:
    """R18: a state_dict whose groups lack keys newer torch versions added loads into impl,
    which backfills them as torch does, and resumes exactly as torch resumes from it."""
    sd, values = _saved_by_torch(**HYPER)
    for group in sd["param_groups"]:
        for key in dropped:
            del group[key]
    if step_as_float:  # step counters as plain numbers (torch's __setstate__ converts them)
        for s in sd["state"].values():
            s["step"] = s["step"].item()
    ours_params = [v.clone().requires_grad_() for v in values]
    theirs_params = [v.clone().requires_grad_() for v in values]
    ours, theirs = Adagrad(ours_params, lr=1.0), torch.optim.Adagrad(theirs_params, lr=1.0)
    ours.load_state_dict(copy.deepcopy(sd))
    theirs.load_state_dict(copy.deepcopy(sd))
    strip = lambda g: {k: v for k, v in g.items() if k != "params"}  # noqa: E731
    assert [strip(g) for g in ours.param_groups] == [strip(g) for g in theirs.param_groups]
    _steps(ours, ours_params, range(2, 4))
    _steps(theirs, theirs_params, range(2, 4))
    # Both run the for-loop path (foreach backfilled to None = the CPU default): bitwise.
    _assert_same_run(ours, theirs)


@pytest.mark.parametrize("missing", ["step", "sum"])
def test_state_missing_step_or_sum_raises_key_error(missing: str) -> None:
    """Issue 19 point 7: a parameter state without step or sum is refused with KeyError, as
    torch refuses it (at load or at the first step), and the optimizer is left as it was."""
    sd, values = _saved_by_torch(**HYPER)
    del sd["state"][1][missing]
    theirs_params = [v.clone().requires_grad_() for v in values]
    theirs = torch.optim.Adagrad(theirs_params)
    with pytest.raises(KeyError, match=missing):  # the witness: torch refuses it too
        theirs.load_state_dict(copy.deepcopy(sd))
        _steps(theirs, theirs_params, range(1))
    params = [v.clone().requires_grad_() for v in values]
    ours = Adagrad(params, lr=1.0)
    before = copy.deepcopy(ours.state_dict())
    with pytest.raises(KeyError, match=f"parameter 1 has no '{missing}'"):
        ours.load_state_dict(copy.deepcopy(sd))
    after = ours.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for i, s in before["state"].items():
        assert torch.equal(after["state"][i]["sum"], s["sum"]) and after["state"][i]["step"] == s["step"]


def test_empty_or_absent_state_starts_afresh() -> None:
    """A parameter with no state (absent, or an empty entry) starts from its group's τ."""
    sd, values = _saved_by_torch(**HYPER)
    sd["state"][0] = {}
    del sd["state"][2]
    params = [v.clone().requires_grad_() for v in values]
    ours = Adagrad(params)
    ours.load_state_dict(sd)
    for i in (0, 2):
        assert torch.equal(ours.state[params[i]]["sum"], torch.full_like(params[i], HYPER["initial_accumulator_value"]))
        assert ours.state[params[i]]["step"].item() == 0
    assert ours.state[params[1]]["step"].item() == 2


# --- older torch: fallbacks, tested by taking the newer API away ---------------------------------


def test_fused_without_torch_kernel_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a torch without _fused_adagrad_ (< 2.4), fused=True for CPU params is refused when
    the optimizer is built (or the group added), and at the step, with a message saying why."""
    monkeypatch.delattr(torch, "_fused_adagrad_")
    assert not common.has_fused_kernel()
    with pytest.raises(RuntimeError, match=r"needs torch\._fused_adagrad_.*torch 2\.4"):
        Adagrad(_params(), fused=True)
    opt = Adagrad(_params(), foreach=True)
    with pytest.raises(RuntimeError, match=r"needs torch\._fused_adagrad_"):
        opt.add_param_group({"params": _params(1), "fused": True, "foreach": False})
    p, g = torch.zeros(2), torch.ones(2)
    with pytest.raises(RuntimeError, match=r"needs torch\._fused_adagrad_"):
        fused_cpu_adagrad([p], [g], [torch.zeros(2)], [torch.zeros((), dtype=torch.float64)], lr=0.1,
                          weight_decay=0.0, lr_decay=0.0, eps=0.0, maximize=False, differentiable=False,
                          has_sparse_grad=False, has_complex=False, grad_scale=None, found_inf=None)  # fmt: skip
    Adagrad(_params(), foreach=True)  # the other paths are unaffected


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_foreach_half_precision_without_foreach_copy(dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch) -> None:
    """torch 2.0 has no _foreach_copy_: the foreach path's half-precision copy-back falls back
    to a loop with the same results."""

    def run() -> list[torch.Tensor]:
        params = [p.detach().to(dtype).requires_grad_() for p in _params()]
        opt = targets.foreach(params, **HYPER)
        _steps(opt, params, range(3))
        return [p.detach() for p in params] + [opt.state[p]["sum"] for p in params]

    with_op = run()
    monkeypatch.delattr(torch, "_foreach_copy_")
    without_op = run()
    assert all(torch.equal(a, b) for a, b in zip(with_op, without_op, strict=True))


def test_device_lists_come_from_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The foreach default and the fused device check use torch's capability lists, with a
    fallback for torch versions that lack them."""
    import torch.utils._foreach_utils as fu

    assert common.foreach_devices() == tuple(fu._get_foreach_kernels_supported_devices())
    assert common.fused_devices() == tuple(fu._get_fused_kernels_supported_devices())
    p = torch.zeros(3, device="meta", requires_grad=True)
    opt = Adagrad([p], fused=True)
    p.grad = torch.zeros(3, device="meta")
    with pytest.raises(RuntimeError, match=r"supported devices: \[.*'cpu'.*\] but torch\.float32 and meta"):
        opt.step()
    monkeypatch.delattr(fu, "_get_foreach_kernels_supported_devices")
    monkeypatch.delattr(fu, "_get_fused_kernels_supported_devices")
    assert common.foreach_devices() == ("cuda",)
    assert common.fused_devices() == ("cpu", "cuda")


@pytest.mark.parametrize(("devices", "expected"), [(("cpu",), "foreach"), (("cuda",), "for_loop")])
def test_foreach_default_follows_the_device_list(devices: tuple[str, ...], expected: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """With neither foreach nor fused given, foreach is used exactly on the listed devices."""
    called: list[str] = []
    monkeypatch.setattr(functional, "foreach_devices", lambda: devices)
    monkeypatch.setattr(functional, "foreach_adagrad", lambda *a, **k: called.append("foreach"))
    monkeypatch.setattr(functional, "for_loop_adagrad", lambda *a, **k: called.append("for_loop"))
    params = _params(n=1)
    _steps(Adagrad(params), params, range(1))
    assert called == [expected]


@pytest.mark.parametrize("factory", [targets.for_loop, targets.foreach], ids=["for_loop", "foreach"])
def test_empty_sparse_gradient_matches_torch(factory: Any) -> None:
    """A sparse gradient with no rows changes nothing but the step count, as in torch."""
    values = _params(n=1)[0].detach()
    runs = []
    for make in (factory, lambda ps, **h: torch.optim.Adagrad(ps, foreach=False, **h)):
        p = values.clone().requires_grad_()
        opt = make([p], lr=0.1, initial_accumulator_value=0.1)
        p.grad = torch.sparse_coo_tensor(torch.zeros(2, 0, dtype=torch.long), torch.zeros(0), (4, 5))
        opt.step()
        runs.append((p.detach(), opt.state[p]["sum"], opt.state[p]["step"].item()))
    (p1, s1, t1), (p2, s2, t2) = runs
    assert torch.equal(p1, values) and torch.equal(p1, p2) and torch.equal(s1, s2) and t1 == t2 == 1


def test_plain_tensors_are_not_copied_for_shards() -> None:
    """local_shards leaves plain tensors alone (the caller's lists, no copies)."""
    ps, gs, ss = _params(), _params(1), _params(2)
    out = common.local_shards(ps, gs, ss)
    assert out[0] is ps and out[1] is gs and out[2] is ss and out[3] == []
