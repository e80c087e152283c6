"""Numerics per dtype and path: teacher-forced steps, free-running and long runs (R1, R2, R17, R30).

Teacher-forced: the target's state is loaded from a drawn (sum, step), then one step is
compared with the oracle's step from the same dtype-rounded inputs. Free-running: the target
runs a whole trajectory on its own; the tolerance follows the error model step by step.
Only the lr is drawn: every other hyperparameter stays at the target's default (combinations
are the hyperparameters feature's), so a library lacking one is still checked here.

The 300-step low-precision run cannot be judged by the free-running bound, which becomes
vacuous after a few dozen bfloat16 steps (docs/error-model.md, "Trajectories"). It is checked
where the model stays tight: zero-gradient steps exactly (0/d = 0 and θ − 0 = θ in any correct
arithmetic), every non-zero step teacher-forced from the state the long run itself reached, and
the step counter exactly, in a dtype that can count (R2, R17).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.engine.dtypes import FORMATS, round_to
from adagrad.conformance.engine.harness import Case, check_case, target_state, to_numpy
from adagrad.conformance.engine.strategies import GRADIENT_RANGE, cases, lr_only, path_params, shapes
from adagrad.conformance.features import feature

DTYPES = [pytest.param(d, marks=feature(f"numerics-{d}"), id=d) for d in ("float64", "float32", "float16", "bfloat16")]
LOW = [pytest.param(d, marks=feature(f"numerics-{d}"), id=d) for d in ("float16", "bfloat16")]


@pytest.mark.spec("R1", "R2", "R30")
@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_teacher_forced_step(target, record_ulps, dtype, options, data):
    """One step from a loaded state (any step count) equals the oracle's step."""
    case = data.draw(
        cases(dtype=dtype, hyper=lr_only(), teacher_forced=True, shape=shapes(max_elements=40), options=options)
    )
    check_case(target, case, record_ulps, what=f"teacher-forced {dtype} step")


@pytest.mark.spec("R1", "R30")
@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_free_running(target, record_ulps, dtype, options, data):
    """A trajectory of 1-12 steps stays within the error model at every step."""
    case = data.draw(cases(dtype=dtype, hyper=lr_only(), steps=(1, 12), options=options))
    check_case(target, case, record_ulps, what=f"free-running {dtype}")


#: Steps per dtype: in bfloat16 the worst-case bound of a long accumulation becomes vacuous
#: after about 30 steps (docs/error-model.md, "Trajectories"), so its free-running run is shorter.
LONG_STEPS = {"float64": 60, "float32": 60, "float16": 60, "bfloat16": 20}


def _gradients(rng: np.random.Generator, dtype: str, n: int) -> np.ndarray:
    lo, hi = GRADIENT_RANGE[dtype]
    return round_to(rng.choice([-1, 1], n) * np.exp(rng.uniform(np.log(lo), np.log(hi), n)), dtype)


@pytest.mark.spec("R1", "R2")
@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("dtype", DTYPES)
def test_long_trajectory(target, record_ulps, dtype, options):
    """A free-running run (60 steps; bfloat16 20) on 40 elements within the model at every step."""
    rng = np.random.default_rng(60)
    grads = [[_gradients(rng, dtype, 40)] for _ in range(LONG_STEPS[dtype])]
    case = Case(
        dtype=dtype,
        params=[round_to(rng.uniform(-2, 2, 40), dtype)],
        grads=grads,
        groups=[{"lr": 0.3, "params": [0]}],
        options=dict(options),
    )
    check_case(target, case, record_ulps, what=f"{LONG_STEPS[dtype]}-step {dtype}")


#: Step-counter dtypes the spec allows (R17): each counts exactly past 300 steps (float16
#: stops at 2048, bfloat16 at 256, so a counter kept in the parameter's dtype is wrong).
STEP_DTYPES = (torch.float32, torch.float64, torch.int64)
#: The 300-step run: non-zero gradients at these steps (1-based), zero gradients at the others.
#: 256 -> 257 is where a bfloat16 counter stops; 2048 is beyond the run.
NONZERO_STEPS = (1, 2, 100, 256, 257, 300)
LONG_RUN = 300


def _recording(target: Any, made: list[Any]) -> Any:
    """The target, keeping every optimizer it makes (to read where a checked case left it)."""

    def factory(params: Any, **hyper: Any) -> Any:
        made.append((params, target.make(params, **hyper)))
        return made[-1][1]

    return dataclasses.replace(target, factory=factory)


def _state(target: Any, opt: Any, params: list[torch.Tensor]) -> tuple[np.ndarray, np.ndarray, Any]:
    """(param, sum, step) of the one parameter; sum and step None where the target has no state
    yet (lazy state, before the first step: not this feature's subject)."""
    entry = target_state(target, opt)[0]
    if entry is None:
        return to_numpy(params[0]), None, None
    assert entry[0].dtype == params[0].dtype, (
        f"the accumulator is kept in {entry[0].dtype} for a {params[0].dtype} parameter; R30 wants the parameter's dtype"
    )
    return to_numpy(params[0]), to_numpy(entry[0]), entry[1]


@pytest.mark.spec("R2", "R15", "R17", "R30")
@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("dtype", LOW)
def test_long_low_precision_run(target, record_ulps, dtype, options):
    """300 steps in float16/bfloat16, zero and non-zero gradients: the counter is exact and of a
    counting dtype at every step; a zero gradient leaves param and sum bitwise unchanged; every
    non-zero step, teacher-forced from the state this run reached, is within the one-step model
    and lands exactly where the run itself did (resuming is exact, R18)."""
    rng = np.random.default_rng(300)
    n, lr = 64, 0.05
    tdt = getattr(torch, dtype)
    p = torch.tensor(round_to(rng.uniform(-2, 2, n), dtype), dtype=torch.float64).to(tdt).requires_grad_()
    opt = target.make([p], lr=lr, **options)
    made: list[Any] = []
    for k in range(1, LONG_RUN + 1):
        theta, total, _ = _state(target, opt, [p])
        g = _gradients(rng, dtype, n) if k in NONZERO_STEPS else np.zeros(n)
        p.grad = torch.tensor(g, dtype=torch.float64).to(tdt)
        opt.step()
        theta_after, total_after, step = _state(target, opt, [p])
        assert type(step) is int or (torch.is_tensor(step) and step.dim() == 0 and step.dtype in STEP_DTYPES), (
            f"{dtype} run, after step {k}: the step counter is {step!r}; R17 wants a 0-dim tensor of "
            f"{', '.join(str(d) for d in STEP_DTYPES)} (or an int, where the target's state mapping says so)"
        )
        assert float(step) == k, f"{dtype} run: the step counter reads {float(step)} after {k} steps (R2)"
        if k not in NONZERO_STEPS:
            assert np.array_equal(theta_after, theta) and np.array_equal(total_after, total), (
                f"{dtype} run, step {k}: a zero gradient changed the param or the sum "
                f"(max |dθ| {np.max(np.abs(theta_after - theta)):.3g}, max |ds| {np.max(np.abs(total_after - total)):.3g})"
            )
            continue
        start = None if k == 1 else [(total, k - 1)]
        case = Case(
            dtype=dtype,
            params=[theta],
            grads=[[g]],
            groups=[{"lr": lr, "params": [0]}],
            options=dict(options),
            start=start,
        )
        check_case(_recording(target, made), case, record_ulps, what=f"{dtype} run, step {k} of {LONG_RUN}")
        replay_params, replay = made[-1]
        r_theta, r_total, _ = _state(target, replay, replay_params)
        assert np.array_equal(r_theta, theta_after) and np.array_equal(r_total, total_after), (
            f"{dtype} run, step {k}: the run's own step differs from the same step resumed from its state"
        )


@feature("numerics-float16")
@pytest.mark.spec("R7", "D3")
@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("eps", [1e-10, 0.1])
def test_float16_zero_gradient_keeps_param(target, eps, options):
    """In float16, a zero gradient on a zero accumulator leaves the param unchanged (eps > 0)."""
    p = torch.tensor([1.5, -0.25, 0.0], dtype=torch.float16, requires_grad=True)
    opt = target.make([p], lr=0.1, eps=eps, **options)
    p.grad = torch.zeros_like(p)
    opt.step()
    assert torch.equal(p.detach(), torch.tensor([1.5, -0.25, 0.0], dtype=torch.float16)), (
        f"zero gradient changed the float16 param to {p.detach().tolist()} (eps={eps})"
    )


def _subnormals(fmt: Any, significands: np.ndarray) -> np.ndarray:
    """``significands * 2**subnormal_exponent`` (subnormals of ``fmt``; signed integers below
    2**(p-1)) as float64. Made without float arithmetic where the result is a float64 subnormal:
    this runs in the target's process, whose flush-to-zero mode (if it set one) would flush them."""
    magnitude = np.abs(significands).astype(np.uint64)
    if fmt.name == "float64":  # the bits of the float64 subnormal m * 2**-1074 are m itself
        sign = np.where(significands < 0, np.uint64(1) << np.uint64(63), np.uint64(0))
        return (magnitude | sign).view(np.float64)
    return np.where(significands < 0, -1.0, 1.0) * np.ldexp(magnitude.astype(np.float64), fmt.subnormal_exponent)


@pytest.mark.spec("R1", "R30")
@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("dtype", DTYPES)
def test_subnormal_range(target, record_ulps, dtype, options):
    """Params and lr in the subnormal range, far above the smallest subnormal (significands of
    up to p-1 bits; lr 2**(p/2) subnormals), so every update and every result is a subnormal:
    each step within the model, zero-gradient steps included. Flushing subnormals to zero (a
    flush-to-zero or denormals-are-zero mode, e.g. ``torch.set_flush_denormal(True)``) is off by
    up to 2**(p-1) subnormals here, far outside the model (R1, R30)."""
    fmt = FORMATS[dtype]
    rng = np.random.default_rng(1074)
    n = 16
    top = 2 ** (fmt.precision - 1)
    params = _subnormals(fmt, rng.integers(-top + 1, top, n))
    lr = float(_subnormals(fmt, np.array([2 ** (fmt.precision // 2)]))[0])
    zero = np.zeros(n)
    case = Case(
        dtype=dtype,
        params=[params],
        grads=[[_gradients(rng, dtype, n)], [zero], [_gradients(rng, dtype, n)], [zero]],
        groups=[{"lr": lr, "params": [0]}],
        options=dict(options),
    )
    check_case(target, case, record_ulps, what=f"subnormal {dtype} params and lr")
