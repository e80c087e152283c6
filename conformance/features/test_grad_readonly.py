"""step() never modifies gradients (R26), on every path."""

from __future__ import annotations

import re

import pytest
import torch

from adagrad.conformance.engine.strategies import REFUSALS, path_name, path_params
from adagrad.conformance.features import feature, requires

pytestmark = [feature("grad-readonly"), pytest.mark.spec("R26")]

SETTINGS = [
    pytest.param({}, id="defaults"),
    pytest.param(dict(maximize=True), id="maximize"),
    pytest.param(dict(weight_decay=0.5), id="weight_decay"),
    pytest.param(dict(maximize=True, weight_decay=0.5, lr_decay=0.1), id="all"),
]


@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("kwargs", SETTINGS)
def test_dense_grad_unchanged(target, kwargs, options):
    """Dense gradients are bitwise unchanged by step()."""
    gen = torch.Generator().manual_seed(26)
    ps = [torch.randn(40, generator=gen).requires_grad_(), torch.randn(3, 3, generator=gen).requires_grad_()]
    opt = target.make(ps, **kwargs, **options)
    for p in ps:
        p.grad = torch.randn(p.shape, generator=gen)
    before = [p.grad.clone() for p in ps]
    opt.step()
    for p, b in zip(ps, before):
        assert torch.equal(p.grad, b), f"step modified the gradient with {kwargs} {options}"


@requires("sparse")
@pytest.mark.parametrize("options", path_params())
def test_sparse_grad_unchanged(target, options):
    """An uncoalesced sparse gradient is unchanged by step() (maximize on); fused may refuse it."""
    p = torch.zeros(5, 2, requires_grad=True)
    opt = target.make([p], maximize=True, **options)
    g = torch.sparse_coo_tensor([[0, 3, 0]], torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), (5, 2))
    p.grad = g
    indices, values = g._indices().clone(), g._values().clone()
    refusal = REFUSALS.get((path_name(options), "sparse"))
    try:
        opt.step()
    except Exception as exc:  # noqa: BLE001 - only torch's refusal on this path passes
        if refusal is None or not isinstance(exc, refusal[0]) or not re.search(refusal[1], str(exc)):
            raise
    assert p.grad is g and torch.equal(g._indices(), indices) and torch.equal(g._values(), values), (
        "step modified or replaced the sparse gradient"
    )
