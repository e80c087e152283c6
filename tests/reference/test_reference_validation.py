"""The oracle's constructor errors against torch.optim.Adagrad's, for the same bad inputs (R24).

Each row builds the constructor's arguments through a small adapter (``Lib``), once with the
oracle's types (``Param``, NumPy arrays) and once with torch's (leaf tensors), and the test
compares the two outcomes: both accept, or both raise the same exception type with the same
message. Where a message names a type that differs by nature (``torch.FloatTensor`` vs
``Param``), the row compares the message up to that name.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from adagrad.reference import Param, ReferenceAdagrad, SparseGrad


@dataclass(frozen=True)
class Lib:
    """How one side spells a parameter, an lr array and the optimizer."""

    name: str
    param: Callable[[], Any]
    array: Callable[[list[float]], Any]
    optimizer: Callable[..., Any]


ORACLE = Lib("oracle", lambda: Param(np.zeros(2)), lambda v: np.array(v), ReferenceAdagrad)
TORCH = Lib("torch", lambda: torch.zeros(2, requires_grad=True), lambda v: torch.tensor(v), torch.optim.Adagrad)


def _two_groups_sharing(lib: Lib):
    p = lib.param()
    return lib.optimizer([{"params": [p]}, {"params": [p]}])


def _add_negative_lr_group(lib: Lib):
    opt = lib.optimizer([lib.param()])
    opt.add_param_group({"params": [lib.param()], "lr": -1.0, "eps": -1.0})
    return opt


# (id, construct(lib), how to compare the message: "exact" or "prefix:<text>")
ROWS: list[tuple[str, Callable[[Lib], Any], str]] = [
    ("lr-negative", lambda lib: lib.optimizer([lib.param()], lr=-1.0), "exact"),
    ("lr-nan", lambda lib: lib.optimizer([lib.param()], lr=math.nan), "exact"),
    ("lr-inf-accepted", lambda lib: lib.optimizer([lib.param()], lr=math.inf), "exact"),
    ("lr-minus-zero-accepted", lambda lib: lib.optimizer([lib.param()], lr=-0.0), "exact"),
    ("lr_decay-negative", lambda lib: lib.optimizer([lib.param()], lr_decay=-0.5), "exact"),
    ("lr_decay-nan", lambda lib: lib.optimizer([lib.param()], lr_decay=math.nan), "exact"),
    ("weight_decay-negative", lambda lib: lib.optimizer([lib.param()], weight_decay=-1e-3), "exact"),
    ("tau-negative-int", lambda lib: lib.optimizer([lib.param()], initial_accumulator_value=-1), "exact"),
    ("tau-negative", lambda lib: lib.optimizer([lib.param()], initial_accumulator_value=-0.25), "exact"),
    ("eps-negative", lambda lib: lib.optimizer([lib.param()], eps=-1e-8), "exact"),
    ("eps-nan", lambda lib: lib.optimizer([lib.param()], eps=math.nan), "exact"),
    ("eps-zero-accepted", lambda lib: lib.optimizer([lib.param()], eps=0.0), "exact"),
    ("lr-two-elements", lambda lib: lib.optimizer([lib.param()], lr=lib.array([0.1, 0.2])), "exact"),
    ("lr-one-element-accepted", lambda lib: lib.optimizer([lib.param()], lr=lib.array([0.1])), "exact"),
    # the value is printed as each library prints an array
    (
        "lr-one-element-negative",
        lambda lib: lib.optimizer([lib.param()], lr=lib.array([-0.1])),
        "prefix:Invalid learning rate: ",
    ),
    ("params-empty", lambda lib: lib.optimizer([]), "exact"),
    ("params-empty-iterator", lambda lib: lib.optimizer(iter([])), "exact"),
    (
        "params-single-tensor",
        lambda lib: lib.optimizer(lib.param()),
        "prefix:params argument given to the optimizer should be an iterable of Tensors or dicts, but got ",
    ),
    ("params-not-iterable", lambda lib: lib.optimizer(3), "exact"),
    ("params-wrong-element", lambda lib: lib.optimizer([lib.param(), "w"]), "prefix:optimizer can only optimize "),
    ("params-set-accepted", lambda lib: lib.optimizer({lib.param()}), "exact"),
    ("group-params-set", lambda lib: lib.optimizer([{"params": {lib.param()}}]), "exact"),
    ("group-params-single-accepted", lambda lib: lib.optimizer([{"params": lib.param()}]), "exact"),
    ("param-in-two-groups", _two_groups_sharing, "exact"),
    ("per-group-values-not-validated", _add_negative_lr_group, "exact"),
]


def _outcome(construct: Callable[[Lib], Any], lib: Lib):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            construct(lib)
    except Exception as exc:  # noqa: BLE001 - the exception is the thing compared
        return type(exc), str(exc)
    return None, None


@pytest.mark.parametrize("construct, compare", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_constructor_errors_match_torch_R24(construct, compare):
    """Same inputs: the oracle raises what torch raises (type and message), or accepts (R24, R12)."""
    want_type, want_message = _outcome(construct, TORCH)
    got_type, got_message = _outcome(construct, ORACLE)
    assert got_type is want_type, (got_type, got_message, want_type, want_message)
    if want_type is None:
        return
    if compare == "exact":
        assert got_message == want_message
    else:
        prefix = compare.removeprefix("prefix:")
        assert want_message.startswith(prefix), want_message  # the row's premise about torch
        assert got_message.startswith(prefix), got_message


def test_duplicate_param_in_one_group_only_warns_as_torch_R12():
    """A parameter twice in one group: a UserWarning with torch's text, no error (R12)."""
    messages = {}
    for lib in (ORACLE, TORCH):
        p = lib.param()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.optimizer([p, p])
        messages[lib.name] = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert messages["oracle"] and set(messages["oracle"]) <= set(messages["torch"])


def test_sparse_weight_decay_error_matches_torch_R10_D4():
    """Sparse gradient with weight_decay != 0: the same RuntimeError as torch's for-loop (R10, D4)."""
    w = torch.zeros(4, requires_grad=True)
    opt = torch.optim.Adagrad([w], weight_decay=0.1, foreach=False)
    w.grad = torch.sparse_coo_tensor(torch.tensor([[1]]), torch.tensor([1.0]), (4,))
    with pytest.raises(RuntimeError) as want:
        opt.step()
    v = Param(np.zeros(4))
    ref = ReferenceAdagrad([v], weight_decay=0.1)
    v.grad = SparseGrad(np.array([[1]]), np.array([1.0]), (4,))
    with pytest.raises(RuntimeError) as got:
        ref.step()
    assert str(got.value) == str(want.value)
