"""Numerics per dtype: teacher-forced single steps and free-running trajectories (R1, R2, R30).

Teacher-forced: the target's state is loaded from a drawn (sum, step), then one step is
compared with the oracle's step from the same dtype-rounded inputs. Free-running: the target
runs a whole trajectory on its own; the tolerance follows the error model step by step.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.features import feature
from adagrad.conformance.harness import Case, check_case
from adagrad.conformance.strategies import cases, shapes

DTYPES = [pytest.param(d, marks=feature(f"numerics-{d}"), id=d) for d in ("float64", "float32", "float16", "bfloat16")]


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_teacher_forced_step(target, record_ulps, dtype, data):
    """R1/R2: one step from a loaded state (any step count) equals the oracle's step."""
    case = data.draw(cases(dtype=dtype, teacher_forced=True, shape=shapes(max_elements=40)))
    check_case(target, case, record_ulps, what=f"teacher-forced {dtype} step")


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_free_running(target, record_ulps, dtype, data):
    """R1/R30: a trajectory of 1-12 steps stays within the error model at every step."""
    case = data.draw(cases(dtype=dtype, steps=(1, 12)))
    check_case(target, case, record_ulps, what=f"free-running {dtype}")


#: Steps per dtype: in bfloat16 the worst-case bound of a long accumulation becomes vacuous
#: after about 30 steps (docs/error-model.md, "Trajectories"), so its long run is shorter.
LONG_STEPS = {"float64": 60, "float32": 60, "float16": 60, "bfloat16": 20}


@pytest.mark.parametrize("dtype", DTYPES)
def test_long_trajectory(target, record_ulps, dtype):
    """R1/R3: a long run (60 steps; bfloat16 20) on 40 elements, every flag on, within the model."""
    rng = np.random.default_rng(60)
    from adagrad.conformance.dtypes import round_to
    from adagrad.conformance.strategies import GRADIENT_RANGE

    lo, hi = GRADIENT_RANGE[dtype]
    grads = [[round_to(rng.choice([-1, 1], 40) * np.exp(rng.uniform(np.log(lo), np.log(hi), 40)), dtype)] for _ in range(LONG_STEPS[dtype])]
    hyper = dict(lr=0.3, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.25, eps=1e-3, maximize=False)
    case = Case(dtype=dtype, params=[round_to(rng.uniform(-2, 2, 40), dtype)], grads=grads, groups=[{**hyper, "params": [0]}])
    check_case(target, case, record_ulps, what=f"{LONG_STEPS[dtype]}-step {dtype}")


@feature("numerics-float16")
@pytest.mark.parametrize("eps", [1e-10, 0.1])
def test_float16_zero_gradient_keeps_param(target, eps):
    """R7/D3: in float16, a zero gradient on a zero accumulator leaves the param unchanged (eps > 0)."""
    import torch

    p = torch.tensor([1.5, -0.25, 0.0], dtype=torch.float16, requires_grad=True)
    opt = target.make([p], lr=0.1, eps=eps)
    p.grad = torch.zeros_like(p)
    opt.step()
    assert torch.equal(p.detach(), torch.tensor([1.5, -0.25, 0.0], dtype=torch.float16)), (
        f"zero gradient changed the float16 param to {p.detach().tolist()} (eps={eps})"
    )
