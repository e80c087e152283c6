"""Shapes (R1): 0-dim, empty, and tensors of more than 32 and more than 4,096 elements."""

from __future__ import annotations

import numpy as np
import pytest

from adagrad.conformance.features import feature, requires
from adagrad.conformance.harness import Case, check_case
from adagrad.conformance.dtypes import round_to

pytestmark = feature("shapes")

SHAPES = [(), (0,), (1,), (2, 0, 3), (33,), (5, 7, 3), (4097,), (70, 65)]
PATHS = [
    pytest.param({}, id="default"),
    pytest.param({"foreach": True}, id="foreach", marks=requires("foreach")),
    pytest.param({"fused": True}, id="fused", marks=requires("fused")),
]


@pytest.mark.parametrize("options", PATHS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)) or "0dim")
def test_shape(target, record_ulps, shape, dtype, options):
    """R1 on every element, whatever the shape; several shapes in one optimizer."""
    rng = np.random.default_rng(sum(shape) + 1)
    hyper = dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1, eps=1e-10, maximize=False)
    params = [round_to(rng.uniform(-2, 2, shape), dtype), round_to(rng.uniform(-2, 2, (3,)), dtype)]
    grads = [[round_to(rng.uniform(-3, 3, p.shape), dtype) for p in params] for _ in range(3)]
    case = Case(dtype=dtype, params=params, grads=grads, groups=[{**hyper, "params": [0, 1]}], options=dict(options))
    check_case(target, case, record_ulps, what=f"shape {shape}")
