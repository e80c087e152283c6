"""The optimizer around the paths: state, groups, state_dict compatibility with torch, hooks,
zero_grad, closures, and the for-loop's sparse / complex / differentiable steps."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

from adagrad.impl import Adagrad, targets

FACTORIES = [("for_loop", targets.for_loop), ("foreach", targets.foreach), ("fused", targets.fused)]
IDS = [n for n, _ in FACTORIES]
MAKERS = [f for _, f in FACTORIES]


def _params(seed: int = 0, n: int = 3) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(4, 5, generator=gen).requires_grad_() for _ in range(n)]


def _set_grads(params: list[torch.Tensor], seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen)


@pytest.mark.parametrize("factory", MAKERS, ids=IDS)
def test_per_group_tau_everywhere(factory: Any) -> None:
    """R13 (divergence D1): a sum starts at its own group's τ, however the param arrived."""
    a, b, c, d = _params(n=4)
    opt = factory([{"params": [a]}, {"params": [b], "initial_accumulator_value": 2.0}],
                  initial_accumulator_value=0.5)  # fmt: skip
    opt.add_param_group({"params": [c], "initial_accumulator_value": 3.0})
    opt.add_param_group({"params": [d]})
    expected = {a: 0.5, b: 2.0, c: 3.0, d: 0.5}
    for p, tau in expected.items():
        assert torch.equal(opt.state[p]["sum"], torch.full_like(p, tau))
        assert opt.state[p]["step"].item() == 0  # R14: eager
    # load_state_dict without state for a param: it starts afresh from its group's τ.
    sd = opt.state_dict()
    del sd["state"][2]
    opt.load_state_dict(sd)
    assert torch.equal(opt.state[c]["sum"], torch.full_like(c, 3.0))


@pytest.mark.parametrize(
    ("save_cls", "load_cls"),
    [(torch.optim.Adagrad, Adagrad), (Adagrad, torch.optim.Adagrad)],
    ids=["torch_to_ours", "ours_to_torch"],
)
@pytest.mark.parametrize("path", [{"foreach": False}, {"foreach": True}, {"fused": True}], ids=IDS)
def test_state_dict_round_trip_with_torch(save_cls: Any, load_cls: Any, path: Any, monkeypatch: Any) -> None:
    """R18: a run saved by one class and resumed by the other equals the uninterrupted run."""
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    hyper = dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, **path)
    straight = _params()
    opt = save_cls(straight, **hyper)
    for k in range(4):
        _set_grads(straight, k)
        opt.step()
    first = _params()
    saver = save_cls(first, **hyper)
    for k in range(2):
        _set_grads(first, k)
        saver.step()
    sd = copy.deepcopy(saver.state_dict())
    second = [p.detach().clone().requires_grad_() for p in first]
    loader = load_cls(second, lr=1.0)  # hyperparameters come from the state_dict
    loader.load_state_dict(sd)
    assert loader.param_groups[0]["lr"] == 0.1
    for k in range(2, 4):
        _set_grads(second, k)
        loader.step()
    for a, b in zip(straight, second):
        # Same path, same kernels: bitwise, whichever class ran which half.
        assert torch.equal(a, b)
    assert all(loader.state[p]["step"].item() == 4 for p in second)


def test_state_dict_layout() -> None:
    """R17: ids in group order, step a 0-dim tensor, sum shaped like the param."""
    a, b, c = _params()
    opt = Adagrad([{"params": [a, b]}, {"params": [c], "lr": 0.5}])
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert set(sd["param_groups"][1]) >= {
        "lr",
        "lr_decay",
        "eps",
        "weight_decay",
        "initial_accumulator_value",
        "foreach",
        "maximize",
        "differentiable",
        "fused",
    }
    assert sd["state"][2]["step"].dim() == 0 and sd["state"][2]["sum"].shape == c.shape


def test_load_state_dict_errors() -> None:
    opt = Adagrad(_params())
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    bad = opt.state_dict()
    bad["param_groups"][0]["params"] = [0]
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        opt.load_state_dict(bad)


def test_hooks_order_and_removal() -> None:
    """R19-R21: every hook runs, in torch's order, and handles remove them."""
    params = _params()
    opt = Adagrad(params)
    calls: list[str] = []
    handles = [
        opt.register_step_pre_hook(lambda o, a, k: calls.append("pre")),
        opt.register_step_post_hook(lambda o, a, k: calls.append("post")),
        opt.register_state_dict_pre_hook(lambda o: calls.append("sd_pre")),
        opt.register_state_dict_post_hook(lambda o, sd: calls.append("sd_post")),
        opt.register_state_dict_post_hook(lambda o, sd: calls.append("sd_post_first"), prepend=True),
        opt.register_load_state_dict_pre_hook(lambda o, sd: calls.append("load_pre")),
        opt.register_load_state_dict_post_hook(lambda o: calls.append("load_post")),
    ]
    _set_grads(params, 0)
    opt.step()
    opt.load_state_dict(opt.state_dict())
    assert calls == ["pre", "post", "sd_pre", "sd_post_first", "sd_post", "load_pre", "load_post"]
    for h in handles:
        h.remove()
    calls.clear()
    opt.step()
    opt.load_state_dict(opt.state_dict())
    assert calls == []


def test_pre_hook_bad_return_raises() -> None:
    """torch >= 2.1's message on every torch (torch 2.0's lacks the space after the comma)."""
    opt = Adagrad(_params())
    opt.register_step_pre_hook(lambda o, a, k: 42)
    with pytest.raises(RuntimeError, match=r"must return None or a tuple of \(new_args, new_kwargs\), but got 42\.$"):
        opt.step()


def test_non_dict_group_raises_type_error() -> None:
    """torch >= 2.3's TypeError on every torch (torch 2.0 asserts)."""
    opt = Adagrad(_params())
    with pytest.raises(TypeError, match=r"^param_group must be a dict, but got <class 'list'>$"):
        opt.add_param_group(_params())  # type: ignore[arg-type]


def test_compat_base_only_fills_gaps() -> None:
    """On a torch whose Optimizer lacks nothing, adagrad.impl's base class is torch's own."""
    from adagrad.impl import torch_compat

    if torch_compat.HAS_STATE_DICT_HOOKS and not torch_compat.OLD_STEP_HOOK_MESSAGE:
        assert torch_compat.OptimizerBase is torch.optim.Optimizer
    else:
        assert issubclass(torch_compat.OptimizerBase, torch.optim.Optimizer)


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none: bool) -> None:
    params = _params()
    _set_grads(params, 0)
    Adagrad(params).zero_grad(set_to_none=set_to_none)
    for p in params:
        assert (p.grad is None) if set_to_none else torch.equal(p.grad, torch.zeros_like(p))


def test_step_closure_and_missing_grads() -> None:
    """R23: the closure runs once with grad on; R15: a param without grad keeps its state."""
    a, b = _params(n=2)
    opt = Adagrad([a, b])
    seen = []

    def closure() -> torch.Tensor:
        seen.append(torch.is_grad_enabled())
        loss = (a * a).sum()
        loss.backward()
        return loss

    with torch.no_grad():
        loss = opt.step(closure)
    assert seen == [True] and loss is not None
    assert opt.state[a]["step"].item() == 1 and opt.state[b]["step"].item() == 0
    assert opt.step() is None


@pytest.mark.parametrize("path", [False, True], ids=["for_loop", "foreach"])
@pytest.mark.parametrize("maximize", [False, True])
def test_sparse_matches_torch(path: bool, maximize: bool) -> None:
    """R9: duplicates summed before squaring, only named rows change."""

    def run(cls: Any) -> tuple[torch.Tensor, torch.Tensor]:
        p = torch.arange(12.0).reshape(4, 3).requires_grad_()
        opt = cls([p], lr=0.1, foreach=path, maximize=maximize)
        for k in range(2):
            p.grad = torch.sparse_coo_tensor([[0, 2, 0]], torch.full((3, 3), k + 1.0), (4, 3))
            opt.step()
        return p.detach(), opt.state[p]["sum"]

    (p1, s1), (p2, s2) = run(Adagrad), run(torch.optim.Adagrad)
    assert torch.equal(p1, p2) and torch.equal(s1, s2)
    assert torch.equal(p1[1], torch.tensor([3.0, 4.0, 5.0]))


@pytest.mark.parametrize("factory", [targets.for_loop, targets.foreach], ids=["for_loop", "foreach"])
def test_complex_matches_torch(factory: Any) -> None:
    """R11: real and imaginary parts are independent elements; τ fills both."""
    gen = torch.Generator().manual_seed(6)
    p0 = torch.randn(5, dtype=torch.complex64, generator=gen)
    grads = [torch.randn(5, dtype=torch.complex64, generator=gen) for _ in range(2)]
    results = []
    for make in (factory, lambda ps, **h: torch.optim.Adagrad(ps, foreach=False, **h)):
        p = p0.clone().requires_grad_()
        opt = make([p], lr=0.1, initial_accumulator_value=0.5, weight_decay=0.1)
        for g in grads:
            p.grad = g
            opt.step()
        results.append(p.detach())
    assert torch.equal(results[0], results[1])


def test_differentiable_gradient_matches_torch() -> None:
    """R28: the step is differentiable; its gradient equals torch's."""
    outs = []
    for cls in (Adagrad, torch.optim.Adagrad):
        w = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64, requires_grad=True)
        g = torch.tensor([0.5, 0.25, -1.0], dtype=torch.float64, requires_grad=True)
        p = w.clone()
        opt = cls([p], lr=0.1, weight_decay=0.1, differentiable=True)
        p.grad = g
        opt.step()
        (dw, dg) = torch.autograd.grad(p.sum(), (w, g))
        outs.append((p.detach(), dw, dg))
    for a, b in zip(*outs):
        assert torch.equal(a, b)


def test_live_hyperparameters() -> None:
    """R31: a changed lr takes effect at the next step."""
    p = torch.ones(3, requires_grad=True)
    opt = Adagrad([p], lr=0.1, eps=0.0)
    opt.param_groups[0]["lr"] = 0.5
    p.grad = torch.ones(3)
    opt.step()
    assert torch.equal(p.detach(), torch.full((3,), 0.5))


def test_step_count_is_exact_past_float32() -> None:
    """R2 (divergence D2): the step counter is float64, exact past 2**24."""
    p = torch.ones(2, requires_grad=True)
    opt = Adagrad([p])
    opt.state[p]["step"].fill_(2.0**24)
    p.grad = torch.ones(2)
    opt.step()
    assert opt.state[p]["step"].item() == 2.0**24 + 1
