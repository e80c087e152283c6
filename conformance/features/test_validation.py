"""Constructor validation (R24): torch's exception types and messages, a table of bad inputs."""

from __future__ import annotations

import math

import pytest
import torch

from adagrad.conformance.features import feature, requires

pytestmark = feature("validation")


def _p():
    return torch.zeros(2, requires_grad=True)


BAD = [
    ("lr-negative", lambda: ([_p()], dict(lr=-0.1)), ValueError, r"^Invalid learning rate: -0\.1$"),
    ("lr-nan", lambda: ([_p()], dict(lr=math.nan)), ValueError, r"^Invalid learning rate: nan$"),
    ("lr_decay", lambda: ([_p()], dict(lr_decay=-1.0)), ValueError, r"^Invalid lr_decay value: -1\.0$"),
    ("weight_decay", lambda: ([_p()], dict(weight_decay=-0.5)), ValueError, r"^Invalid weight_decay value: -0\.5$"),
    ("tau", lambda: ([_p()], dict(initial_accumulator_value=-2.0)), ValueError,
     r"^Invalid initial_accumulator_value value: -2\.0$"),
    ("eps", lambda: ([_p()], dict(eps=-1e-8)), ValueError, r"^Invalid epsilon value: -1e-08$"),
    ("lr-tensor", lambda: ([_p()], dict(lr=torch.tensor([0.1, 0.2]))), ValueError, r"^Tensor lr must be 1-element$"),
    pytest.param(lambda: ([_p()], dict(fused=True, differentiable=True)), RuntimeError,
                 r"^`fused` does not support `differentiable`$", id="fused-differentiable", marks=requires("fused")),
    pytest.param(lambda: ([_p()], dict(fused=True, foreach=True)), RuntimeError,
                 r"^`fused` and `foreach` cannot be `True` together\.$", id="fused-foreach", marks=requires("fused")),
    ("empty", lambda: ([], {}), ValueError, r"^optimizer got an empty parameter list$"),
    ("non-leaf", lambda: ([_p() * 2], {}), ValueError, r"^can't optimize a non-leaf Tensor$"),
    ("tensor-not-iterable", lambda: (_p(), {}), TypeError,
     r"^params argument given to the optimizer should be an iterable of Tensors or dicts, but got torch\.FloatTensor$"),
    ("duplicate-groups", lambda: (lambda q: ([{"params": [q]}, {"params": [q]}], {}))(_p()), ValueError,
     r"^some parameters appear in more than one parameter group$"),
]


def _row(b):
    return b if isinstance(b, type(pytest.param(0))) else pytest.param(*b[1:], id=b[0])


@pytest.mark.parametrize(("make_args", "exc", "pattern"), [_row(b) for b in BAD])
def test_constructor_rejects(target, make_args, exc, pattern):
    """R24: each bad argument raises torch's exception type with torch's message."""
    params, kwargs = make_args()
    with pytest.raises(exc, match=pattern):
        target.make(params, **kwargs)


GOOD = [
    ("lr-inf", dict(lr=math.inf)),
    ("eps-zero", dict(eps=0.0)),
    ("all-zero", dict(lr=0.0, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0)),
    ("lr-tensor-1", dict(lr=torch.tensor(0.1))),
    ("lr-tensor-1x1", dict(lr=torch.tensor([[0.1]]))),
]


@pytest.mark.parametrize("kwargs", [g[1] for g in GOOD], ids=[g[0] for g in GOOD])
def test_constructor_accepts(target, kwargs):
    """R24: boundary values torch accepts are accepted."""
    target.make([_p()], **kwargs)


@requires("differentiable")
def test_non_leaf_allowed_when_differentiable(target):
    """R24/R28: with differentiable=True a non-leaf parameter is accepted."""
    target.make([_p() * 2], differentiable=True)
