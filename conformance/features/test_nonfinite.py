"""Non-finite gradients (R25), on every path: IEEE propagation, nothing clamped or skipped."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.engine.harness import check_case, clone_case
from adagrad.conformance.engine.strategies import cases, lr_only, path_params
from adagrad.conformance.features import feature

pytestmark = [feature("non-finite"), pytest.mark.spec("R25")]

SPECIALS = {"nan": np.nan, "+inf": np.inf, "-inf": -np.inf}


@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16"])
@pytest.mark.parametrize("special", list(SPECIALS))
@given(data=st.data())
def test_non_finite_gradient_propagates(target, record_ulps, special, dtype, options, data):
    """NaN gives NaN sum and param for good; +-inf gives an inf sum and a NaN param."""
    case = data.draw(cases(dtype=dtype, hyper=lr_only(), steps=(1, 4), n_params=(1, 2), options=options))
    grads = [[g.copy() for g in step] for step in case.grads]
    at = data.draw(st.integers(0, len(grads) - 1))
    flat = grads[at][0].reshape(-1)
    flat[data.draw(st.integers(0, flat.size - 1))] = SPECIALS[special]
    grads[at][0] = flat.reshape(grads[at][0].shape)
    check_case(target, clone_case(case, grads=grads), record_ulps, what=f"{special} gradient")
