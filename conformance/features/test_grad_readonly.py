"""step() never modifies gradients (R26)."""

from __future__ import annotations

import pytest
import torch

from adagrad.conformance.features import feature, requires

pytestmark = feature("grad-readonly")

SETTINGS = [
    pytest.param(dict(maximize=True), id="maximize"),
    pytest.param(dict(weight_decay=0.5), id="weight_decay"),
    pytest.param(dict(maximize=True, weight_decay=0.5, lr_decay=0.1), id="all"),
    pytest.param(dict(maximize=True, foreach=True, weight_decay=0.5), id="foreach", marks=requires("foreach")),
    pytest.param(dict(maximize=True, fused=True, weight_decay=0.5), id="fused", marks=requires("fused")),
]


@pytest.mark.parametrize("kwargs", SETTINGS)
def test_dense_grad_unchanged(target, kwargs):
    """R26: dense gradients are bitwise unchanged by step()."""
    gen = torch.Generator().manual_seed(26)
    ps = [torch.randn(40, generator=gen).requires_grad_(), torch.randn(3, 3, generator=gen).requires_grad_()]
    opt = target.make(ps, **kwargs)
    for p in ps:
        p.grad = torch.randn(p.shape, generator=gen)
    before = [p.grad.clone() for p in ps]
    opt.step()
    for p, b in zip(ps, before):
        assert torch.equal(p.grad, b), f"step modified the gradient with {kwargs}"


@requires("sparse")
def test_sparse_grad_unchanged(target):
    """R26: an uncoalesced sparse gradient is unchanged by step() (maximize on)."""
    p = torch.zeros(5, 2, requires_grad=True)
    opt = target.make([p], maximize=True)
    g = torch.sparse_coo_tensor([[0, 3, 0]], torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), (5, 2))
    p.grad = g
    indices, values = g._indices().clone(), g._values().clone()
    opt.step()
    assert torch.equal(p.grad._indices(), indices) and torch.equal(p.grad._values(), values)
