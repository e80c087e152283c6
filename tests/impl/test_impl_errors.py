"""What each forced path refuses, with torch's exception types and messages."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from adagrad.impl import Adagrad, targets


def _sparse_param() -> torch.Tensor:
    p = torch.zeros(4, 2, requires_grad=True)
    p.grad = torch.sparse_coo_tensor([[0, 2, 0]], torch.ones(3, 2), (4, 2))
    return p


def _complex_param() -> torch.Tensor:
    p = torch.zeros(3, dtype=torch.complex64, requires_grad=True)
    p.grad = torch.ones(3, dtype=torch.complex64)
    return p


STEP_ERRORS = [
    ("fused_sparse", targets.fused, _sparse_param, {}, RuntimeError, "`fused` does not support sparse grad or complex param"),
    ("fused_complex", targets.fused, _complex_param, {}, RuntimeError, "`fused=True` requires all the params to be floating point"),
    ("sparse_weight_decay", targets.for_loop, _sparse_param, {"weight_decay": 0.1}, RuntimeError, "weight_decay option is not compatible with sparse gradients"),
    ("foreach_sparse_weight_decay", targets.foreach, _sparse_param, {"weight_decay": 0.1}, RuntimeError, "weight_decay option is not compatible with sparse gradients"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("factory", "make", "hyper", "exc", "match"), [c[1:] for c in STEP_ERRORS], ids=[c[0] for c in STEP_ERRORS]
)
def test_step_errors_match_torch(factory: Any, make: Any, hyper: Any, exc: Any, match: str) -> None:
    with pytest.raises(exc, match=match):
        factory([make()], **hyper).step()
    with pytest.raises(exc, match=match):  # torch, same path, same error
        torch.optim.Adagrad(
            [make()], foreach=factory is targets.foreach, fused=factory is targets.fused or None, **hyper
        ).step()


CONSTRUCTOR_ERRORS = [
    ("lr", dict(lr=-1.0), ValueError, "Invalid learning rate: -1.0"),
    ("lr_nan", dict(lr=float("nan")), ValueError, "Invalid learning rate: nan"),
    ("lr_tensor", dict(lr=torch.tensor([0.1, 0.2])), ValueError, "Tensor lr must be 1-element"),
    ("lr_decay", dict(lr_decay=-1.0), ValueError, "Invalid lr_decay value: -1.0"),
    ("weight_decay", dict(weight_decay=-1.0), ValueError, "Invalid weight_decay value: -1.0"),
    ("tau", dict(initial_accumulator_value=-1.0), ValueError, "Invalid initial_accumulator_value value: -1.0"),
    ("eps", dict(eps=-1.0), ValueError, "Invalid epsilon value: -1.0"),
    ("fused_differentiable", dict(fused=True, differentiable=True), RuntimeError, "`fused` does not support `differentiable`"),
    ("fused_foreach", dict(fused=True, foreach=True), RuntimeError, r"`fused` and `foreach` cannot be `True` together\."),
]  # fmt: skip


@pytest.mark.parametrize("cls", [Adagrad, torch.optim.Adagrad], ids=["ours", "torch"])
@pytest.mark.parametrize(
    ("hyper", "exc", "match"), [c[1:] for c in CONSTRUCTOR_ERRORS], ids=[c[0] for c in CONSTRUCTOR_ERRORS]
)
def test_constructor_errors(cls: Any, hyper: Any, exc: Any, match: str) -> None:
    with pytest.raises(exc, match=match):
        cls([torch.zeros(2, requires_grad=True)], **hyper)


@pytest.mark.parametrize("cls", [Adagrad, torch.optim.Adagrad], ids=["ours", "torch"])
def test_foreach_differentiable_refused(cls: Any) -> None:
    p = torch.zeros(2, requires_grad=True).clone()
    p.grad = torch.ones(2)
    with pytest.raises(AssertionError, match="^_foreach ops don't support autograd$"):  # torch's refusal, both
        cls([p], foreach=True, differentiable=True).step()
