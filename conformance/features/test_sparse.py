"""Sparse COO gradients (R9, R10), on every path: uncoalesced, duplicate indices summed before
squaring. torch's fused path refuses sparse gradients; a target may refuse them the same way or
compute them correctly (R27)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.engine.harness import Case, refuse_whole_test
from adagrad.conformance.engine.strategies import arrays, check_or_refused, hyperparameters, lr_only, path_params
from adagrad.conformance.features import feature
from adagrad.reference import SparseGrad

pytestmark = feature("sparse")

#: How the row indices of each step's gradient are chosen.
KINDS = {
    "drawn": "any rows, any count (duplicates and absent rows likely)",
    "empty": "no entries at all: only the step count advances",
    "duplicates": "every present row given twice or more",
    "maximize": "drawn rows, maximize=True (R9: the sign flip applies)",
    "hyperparameters": "drawn rows; lr_decay, tau, eps (0 among them) and maximize drawn",
    "eps-zero": "eps = 0 and tau = 0, the last row never present: an absent row is left alone "
    "(R9), where a dense update of it gives 0/0",
}


@st.composite
def sparse_cases(draw, *, dtype: str, kind: str, options: dict) -> Case:
    rows = draw(st.integers(2 if kind == "eps-zero" else 1, 8))
    cols = draw(st.sampled_from([(), (1,), (3,)]))
    shape = (rows, *cols)
    hyper = draw(hyperparameters(weight_decay=False) if kind == "hyperparameters" else lr_only())
    if kind == "maximize":
        hyper["maximize"] = True
    if kind == "eps-zero":
        hyper["eps"] = 0.0
    steps = []
    for _ in range(draw(st.integers(1, 5))):
        if kind == "empty":
            idx = []
        elif kind == "duplicates":
            present = draw(st.lists(st.integers(0, rows - 1), min_size=1, max_size=rows, unique=True))
            idx = [r for r in present for _ in range(draw(st.integers(2, 3)))]
        else:
            last = rows - 2 if kind == "eps-zero" else rows - 1
            idx = draw(st.lists(st.integers(0, last), min_size=0, max_size=2 * rows))
        values = draw(arrays(dtype=dtype, shape=(len(idx), *cols), kind="grad")) / 2  # halves stay exact
        steps.append([SparseGrad(np.array([idx], dtype=np.int64).reshape(1, len(idx)), values, shape)])
    params = [draw(arrays(dtype=dtype, shape=shape, kind="param"))]
    return Case(dtype=dtype, params=params, grads=steps, groups=[{**hyper, "params": [0]}], options=dict(options))


CASES = [("float64", k) for k in KINDS] + [("float32", k) for k in ("drawn", "hyperparameters", "eps-zero")]


@pytest.mark.spec("R9", "R3", "R4", "R6", "R7", "R27")
@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize(("dtype", "kind"), CASES, ids=[f"{d}-{k}" for d, k in CASES])
@given(data=st.data())
def test_sparse_matches_oracle(target, record_ulps, dtype, kind, options, data):
    """Duplicates summed then squared; only present rows of param and sum change."""
    case = data.draw(sparse_cases(dtype=dtype, kind=kind, options=options))
    check_or_refused(target, case, record_ulps, what=f"sparse {dtype} ({KINDS[kind]})", needs="sparse")


@pytest.mark.spec("R10", "D4")
@pytest.mark.parametrize("options", path_params())
def test_sparse_with_weight_decay_raises(target, options):
    """A sparse gradient with weight_decay != 0 raises torch's RuntimeError (fused: or its refusal
    of sparse gradients)."""
    p = torch.zeros(4, 2, requires_grad=True)
    opt = target.make([p], weight_decay=0.1, **options)
    p.grad = torch.sparse_coo_tensor([[0, 0, 3]], torch.ones(3, 2), (4, 2))
    pattern = "^weight_decay option is not compatible with sparse gradients$"
    if options.get("fused"):
        pattern += "|^`fused` does not support sparse grad or complex param$"
    try:
        opt.step()
    except RuntimeError as exc:
        if re.search(pattern, str(exc)):
            return
        error: BaseException = exc
    except Exception as exc:  # noqa: BLE001 - judged below
        error = exc
    else:
        pytest.fail(f"a sparse gradient with weight_decay=0.1 did not raise (R10: RuntimeError matching {pattern!r})")
    _refuses_sparse_altogether(target, options, error)
    raise AssertionError(f"raised {type(error).__name__}: {error}; R10 wants RuntimeError matching {pattern!r}")


def _refuses_sparse_altogether(target, options, error: BaseException) -> None:
    """A target that cannot take a sparse gradient even without weight decay (reported by
    test_sparse_matches_oracle) makes this test unsupported, not a second failure."""
    q = torch.zeros(4, 2, requires_grad=True)
    other = target.make([q], **options)
    q.grad = torch.sparse_coo_tensor([[0, 0, 3]], torch.ones(3, 2), (4, 2))
    try:
        other.step()
    except Exception as exc:  # noqa: BLE001 - the target's refusal of any sparse gradient
        refuse_whole_test(
            target,
            f"sparse gradients are refused altogether ({type(exc).__name__}: {exc}); with weight_decay: {type(error).__name__}: {error}",
        )
