"""zero_grad (R22), also after add_param_group, and step(closure) (R23)."""

from __future__ import annotations

import pytest
import torch

from adagrad.conformance.features import feature


@feature("zero-grad")
@pytest.mark.spec("R22")
def test_zero_grad_sets_none_by_default(target):
    """R22: zero_grad() sets every gradient to None."""
    ps = [torch.ones(2, requires_grad=True), torch.ones(3, requires_grad=True)]
    opt = target.make(ps)
    for p in ps:
        p.grad = torch.ones_like(p)
    opt.zero_grad()
    assert all(p.grad is None for p in ps)


@feature("zero-grad")
@pytest.mark.spec("R22")
def test_zero_grad_in_place(target):
    """R22: zero_grad(set_to_none=False) zeroes the same gradient tensors in place."""
    p = torch.ones(4, requires_grad=True)
    opt = target.make([p])
    g = torch.ones(4)
    p.grad = g
    opt.zero_grad(set_to_none=False)
    assert p.grad is g and torch.equal(g, torch.zeros(4))


@feature("zero-grad")
@pytest.mark.spec("R22", "R16")
@pytest.mark.parametrize("set_to_none", [True, False], ids=["set_to_none", "in_place"])
def test_zero_grad_after_add_param_group(target, set_to_none):
    """zero_grad, in both modes, reaches the parameters of groups added by add_param_group too."""
    first = [torch.ones(2, requires_grad=True)]
    added = [torch.ones(3, requires_grad=True), torch.ones(1, requires_grad=True)]
    opt = target.make(first, lr=0.1)
    opt.add_param_group({"params": added[:1]})
    opt.add_param_group({"params": added[1:], "lr": 0.5})
    grads = [torch.ones_like(p) for p in first + added]
    for p, g in zip(first + added, grads):
        p.grad = g
    opt.zero_grad(set_to_none=set_to_none)
    for i, (p, g) in enumerate(zip(first + added, grads)):
        if set_to_none:
            assert p.grad is None, f"param {i} kept its gradient"
        else:
            assert p.grad is g and torch.equal(g, torch.zeros_like(g)), f"param {i}'s gradient was not zeroed in place"


@feature("closure")
@pytest.mark.spec("R23")
def test_step_calls_closure_once_with_grad_and_returns_its_value(target):
    """R23: the closure runs once, under enable_grad (even inside no_grad), and step returns its value."""
    p = torch.ones(3, requires_grad=True)
    opt = target.make([p], lr=0.1)
    calls = []

    def closure():
        calls.append(torch.is_grad_enabled())
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with torch.no_grad():
        loss = opt.step(closure)
    assert calls == [True]
    assert float(loss) == 3.0
    assert torch.all(p.detach() < 1.0), "the step did not use the closure's gradient"


@feature("closure")
@pytest.mark.spec("R23")
def test_step_without_closure_returns_none(target):
    """R23: step() returns None."""
    p = torch.ones(3, requires_grad=True)
    opt = target.make([p])
    p.grad = torch.ones(3)
    assert opt.step() is None


@feature("state-dict")
@pytest.mark.spec("R14")
def test_state_is_eager(target):
    """R14 (torch 2.x): every parameter has its state (step 0, sum tau) from construction, read
    through the target's state mapping. A target that creates state lazily, at a parameter's first
    step, fails this rule only: elsewhere (missing-grads) an untouched parameter without state is
    read as holding the initial state."""
    from adagrad.conformance.adapters.base import signal_unsupported
    from adagrad.conformance.engine.state_mapping import read_state

    params = [torch.ones(3, requires_grad=True), torch.ones(2, 2, requires_grad=True)]
    opt = target.make(params, lr=0.1)
    entries = read_state(target, opt)
    if isinstance(entries, str):
        signal_unsupported(f"eager state: {entries}")
    lazy = [i for i, e in enumerate(entries) if e is None]
    assert not lazy, (
        f"R14: no state for param(s) {lazy} after construction: the target creates its state lazily "
        "(at the first step); torch 2.x creates it in the constructor"
    )
    for i, (total, step) in enumerate(entries):
        assert float(step) == 0.0, f"R14: param {i}'s step is {step!r} after construction, expected 0"
        assert total.shape == params[i].shape and bool(torch.all(total == 0.0)), (
            f"R14: param {i}'s sum after construction is not zeros of its shape (tau 0): {total!r}"
        )
