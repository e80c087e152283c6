"""Shapes (R1), on every path, float32 and float64: 0-dim, empty, tensors of more than 32 and
4,096 elements, and one above 2**16 and one above 2**20 elements (kernels that work in blocks)."""

from __future__ import annotations

import numpy as np
import pytest

from adagrad.conformance.engine.dtypes import round_to
from adagrad.conformance.engine.harness import Case, check_case
from adagrad.conformance.engine.strategies import path_params
from adagrad.conformance.features import feature

pytestmark = [feature("shapes"), pytest.mark.spec("R1")]

SHAPES = [(), (0,), (1,), (2, 0, 3), (33,), (5, 7, 3), (4097,), (70, 65)]


@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)) or "0dim")
def test_shape(target, record_ulps, shape, dtype, options):
    """R1 on every element, whatever the shape; several shapes in one optimizer."""
    rng = np.random.default_rng(sum(shape) + 1)
    params = [round_to(rng.uniform(-2, 2, shape), dtype), round_to(rng.uniform(-2, 2, (3,)), dtype)]
    grads = [[round_to(rng.uniform(-3, 3, p.shape), dtype) for p in params] for _ in range(3)]
    case = Case(dtype=dtype, params=params, grads=grads, groups=[{"lr": 0.1, "params": [0, 1]}], options=dict(options))
    check_case(target, case, record_ulps, what=f"shape {shape}")


#: Just above 2**16 and 2**20 elements, so a block-wise kernel has a partial last block.
LARGE = (2**16 + 1, 2**20 + 3)


@pytest.mark.parametrize("options", path_params())
def test_large_tensors(target, record_ulps, options):
    """float32 tensors above 2**16 and 2**20 elements in one optimizer, default hyperparameters,
    one step: every element right. The gradients cycle through a few values (cheap to make)."""
    pattern = round_to(np.array([0.5, -1.25, 3.0, -0.0625, 2.0, -7.5, 0.375]), "float32")
    params = [round_to(np.linspace(-2.0, 2.0, n), "float32") for n in LARGE]
    grads = [[np.resize(np.roll(pattern, i), n) for i, n in enumerate(LARGE)]]
    case = Case(dtype="float32", params=params, grads=grads, groups=[{"params": [0, 1]}], options=dict(options))
    check_case(target, case, record_ulps, what=f"tensors of {LARGE} elements")
