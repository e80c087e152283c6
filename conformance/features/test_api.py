"""zero_grad (R22) and step(closure) (R23)."""

from __future__ import annotations

import torch

from adagrad.conformance.features import feature


@feature("zero-grad")
def test_zero_grad_sets_none_by_default(target):
    """R22: zero_grad() sets every gradient to None."""
    ps = [torch.ones(2, requires_grad=True), torch.ones(3, requires_grad=True)]
    opt = target.make(ps)
    for p in ps:
        p.grad = torch.ones_like(p)
    opt.zero_grad()
    assert all(p.grad is None for p in ps)


@feature("zero-grad")
def test_zero_grad_in_place(target):
    """R22: zero_grad(set_to_none=False) zeroes the same gradient tensors in place."""
    p = torch.ones(4, requires_grad=True)
    opt = target.make([p])
    g = torch.ones(4)
    p.grad = g
    opt.zero_grad(set_to_none=False)
    assert p.grad is g and torch.equal(g, torch.zeros(4))


@feature("closure")
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
def test_step_without_closure_returns_none(target):
    """R23: step() returns None."""
    p = torch.ones(3, requires_grad=True)
    opt = target.make([p])
    p.grad = torch.ones(3)
    assert opt.step() is None
