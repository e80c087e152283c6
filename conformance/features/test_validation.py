"""Constructor validation (R24): torch's exception types and messages, a table of bad inputs.

Every validated hyperparameter is tried with a negative value, NaN and -inf (rejected) and with
+inf and -0.0 (accepted), as torch 2.13 does. fused + differentiable, which torch refuses, is
the differentiable feature's (a target may also compute it correctly, R27)."""

from __future__ import annotations

import math
import re

import pytest
import torch

from adagrad.conformance.features import feature, requires

pytestmark = feature("validation")


def _p():
    return torch.zeros(2, requires_grad=True)


#: Each validated hyperparameter, with the name torch's message gives it (torch 2.13, measured).
VALIDATED = {
    "lr": "Invalid learning rate: {}",
    "lr_decay": "Invalid lr_decay value: {}",
    "weight_decay": "Invalid weight_decay value: {}",
    "initial_accumulator_value": "Invalid initial_accumulator_value value: {}",
    "eps": "Invalid epsilon value: {}",
}
#: Values every validated hyperparameter rejects, as torch prints them.
REJECTED = {"negative": (-0.5, "-0.5"), "nan": (math.nan, "nan"), "-inf": (-math.inf, "-inf")}


def _bad_value(key: str, value: float):
    return lambda: ([_p()], {key: value})


BAD = [
    pytest.param(_bad_value(key, value), ValueError, "^" + re.escape(message.format(text)) + "$", id=f"{key}-{name}")
    for key, message in VALIDATED.items()
    for name, (value, text) in REJECTED.items()
] + [
    ("lr-tensor", lambda: ([_p()], dict(lr=torch.tensor([0.1, 0.2]))), ValueError, r"^Tensor lr must be 1-element$"),
    pytest.param(
        lambda: ([_p()], dict(fused=True, foreach=True)),
        RuntimeError,
        r"^`fused` and `foreach` cannot be `True` together\.$",
        id="fused-foreach",
        marks=requires("fused", "foreach"),
    ),
    ("empty", lambda: ([], {}), ValueError, r"^optimizer got an empty parameter list$"),
    ("non-leaf", lambda: ([_p() * 2], {}), ValueError, r"^can't optimize a non-leaf Tensor$"),
    (
        "tensor-not-iterable",
        lambda: (_p(), {}),
        TypeError,
        r"^params argument given to the optimizer should be an iterable of Tensors or dicts, but got torch\.FloatTensor$",
    ),
    (
        "duplicate-groups",
        lambda: (lambda q: ([{"params": [q]}, {"params": [q]}], {}))(_p()),
        ValueError,
        r"^some parameters appear in more than one parameter group$",
    ),
]


def _row(b):
    return b if isinstance(b, type(pytest.param(0))) else pytest.param(*b[1:], id=b[0])


@pytest.mark.spec("R24")
@pytest.mark.parametrize(("make_args", "exc", "pattern"), [_row(b) for b in BAD])
def test_constructor_rejects(target, make_args, exc, pattern):
    """R24: each bad argument raises torch's exception type with torch's message."""
    params, kwargs = make_args()
    with pytest.raises(exc, match=pattern):
        target.make(params, **kwargs)


GOOD = (
    [(f"{key}-inf", {key: math.inf}) for key in VALIDATED]
    + [(f"{key}-minus-zero", {key: -0.0}) for key in VALIDATED]
    + [
        ("eps-zero", dict(eps=0.0)),
        ("all-zero", dict(lr=0.0, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0)),
        ("lr-tensor-1", dict(lr=torch.tensor(0.1))),
        ("lr-tensor-1x1", dict(lr=torch.tensor([[0.1]]))),
    ]
)


@pytest.mark.spec("R24")
@pytest.mark.parametrize("kwargs", [g[1] for g in GOOD], ids=[g[0] for g in GOOD])
def test_constructor_accepts(target, kwargs):
    """R24: boundary values torch accepts are accepted."""
    target.make([_p()], **kwargs)


@requires("differentiable")
@pytest.mark.spec("R24", "R28")
def test_non_leaf_allowed_when_differentiable(target):
    """R24/R28: with differentiable=True a non-leaf parameter is accepted."""
    target.make([_p() * 2], differentiable=True)
