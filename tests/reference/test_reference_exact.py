"""Hand-checkable cases: the oracle against spec R1 in exact rational arithmetic.

Each case exercises one hyperparameter (R3-R7) for a few steps. Gradients follow Pythagorean
chains (3, 4, 12, 84: running sums of squares 9, 25, 169, 7225) so that every accumulator is
the square of a rational and the rational model needs no irrational square root; the weight
decay cases choose the raw gradient so that ``g + weight_decay * theta`` lands on such a chain
(the comment on each row shows the arithmetic). The model asserts that every root is exact.

Tolerance: 2 float64 ulps of the exact value. Per step the oracle rounds the decayed lr (at most
three operations), the quotient, the product with the lr and the final subtraction, each with
relative error <= 2**-53; in these cases the update is smaller than the parameter, so the
rounded operations together stay below 2 ulps of the parameter. Accumulators here are sums of
squares of short binary fractions, so the oracle gets them exactly (checked within the same
tolerance, which they meet with 0).
"""

from __future__ import annotations

import numpy as np
import pytest
from reference_helpers import exact_trajectory, ulps_apart

from adagrad.reference import Param, ReferenceAdagrad, adagrad_step

MAX_ULPS = 2.0

# (id, param, grads per step, hyperparameters)
CASES = [
    # lr only; element 3 has a zero gradient until the last step (s stays 0, eps > 0: R7).
    ("lr_R1", [1.0, -2.0, 0.5], [[3, -8, 0], [-4, 6, 0], [12, -24, 5]], dict(lr=0.1)),
    # lr_decay: lr 0.3 at t=1, 0.2 at t=2, 0.15 at t=3, 0.12 at t=4 (R3); 26^2 + 168^2 = 170^2.
    ("lr_decay_R3", [1.0, -2.0], [[3, -8], [-4, 6], [12, -24], [84, 168]], dict(lr=0.3, lr_decay=0.5)),
    # weight_decay, eps = 0: g = 2 + 0.5*2 = 3 -> theta 1.5; g = 3.25 + 0.5*1.5 = 4 -> theta 1.1 (R5).
    ("weight_decay_R5", [2.0], [[2.0], [3.25]], dict(lr=0.5, weight_decay=0.5, eps=0.0)),
    # weight_decay, eps = 1: g = 3 -> theta 2 - 0.5*3/4 = 1.625; g = 3.1875 + 0.8125 = 4 (R5, R7).
    ("weight_decay_eps_R5", [2.0], [[2.0], [3.1875]], dict(lr=0.5, weight_decay=0.5, eps=1.0)),
    # tau = 16 = 4^2: 16+9 = 25, 25+144 = 169, 169+7056 = 7225 (R6); second element tau + 0.
    (
        "initial_accumulator_value_R6",
        [1.0, 3.0],
        [[3, 0], [12, 0], [84, 0]],
        dict(lr=0.25, initial_accumulator_value=16.0),
    ),
    # tau = 9/16: 9/16 + 1 = 25/16, + 9 = 169/16 (R6).
    (
        "initial_accumulator_value_fraction_R6",
        [-1.0],
        [[1.0], [-3.0]],
        dict(lr=0.125, initial_accumulator_value=0.5625),
    ),
    # large eps outside the root: denominators 3.25, 5.25, 13.25 (R7).
    ("eps_R7", [1.0, -2.0], [[3, -8], [-4, 6], [12, -24]], dict(lr=0.25, eps=0.25)),
    # eps = 0 is allowed: theta moves by exactly lr * g / |g| on the first step (R7).
    ("eps_zero_R7", [1.0, -2.0], [[3, -8], [-4, 6]], dict(lr=0.5, eps=0.0)),
    # maximize: the same chain with the sign flipped (R4).
    ("maximize_R4", [1.0, -2.0], [[3, -8], [-4, 6], [12, -24]], dict(lr=0.1, maximize=True)),
    # Everything at once, maximize before weight decay (R1, R4, R5): tau 16, eps 1, lr_decay 0.25.
    # t=1: g = -(-2) + 0.5*2 = 3, s = 25, theta = 2 - 0.5*3/6 = 1.75;
    # t=2: clr = 0.5/1.25 = 0.4, g = 11.125 + 0.875 = 12, s = 169, theta = 1.75 - 0.4*12/14.
    (
        "all_flags_R1",
        [2.0],
        [[-2.0], [-11.125]],
        dict(lr=0.5, lr_decay=0.25, weight_decay=0.5, initial_accumulator_value=16.0, eps=1.0, maximize=True),
    ),
]


def _run_functional(param, grads, hyper):
    tau = hyper.get("initial_accumulator_value", 0.0)
    step_hyper = {k: v for k, v in hyper.items() if k != "initial_accumulator_value"}
    p, s, t = np.array(param), np.full(len(param), tau), 0
    out = []
    for g in grads:
        p, s, t = adagrad_step(p, np.array(g, dtype=np.float64), s, t, **step_hyper)
        out.append((p, s, t))
    return out


def _run_optimizer(param, grads, hyper):
    w = Param(np.array(param))
    opt = ReferenceAdagrad([w], **hyper)
    out = []
    for g in grads:
        w.grad = np.array(g, dtype=np.float64)
        opt.step()
        out.append((w.data, opt.state[w]["sum"], opt.state[w]["step"]))
    return out


@pytest.mark.parametrize("run", [_run_functional, _run_optimizer], ids=["functional", "optimizer"])
@pytest.mark.parametrize("case_id, param, grads, hyper", CASES, ids=[c[0] for c in CASES])
def test_oracle_matches_exact_rational_arithmetic_R1(run, case_id, param, grads, hyper):
    """After every step, param and sum are within 2 ulps of R1 computed exactly; t counts steps (R2)."""
    exact = exact_trajectory(param, grads, **hyper)
    got = run(param, grads, hyper)
    assert len(got) == len(exact)
    for t, ((p, s, step), (p_exact, s_exact)) in enumerate(zip(got, exact), start=1):
        assert step == t
        for i in range(len(param)):
            assert ulps_apart(float(p[i]), p_exact[i]) <= MAX_ULPS, (t, i, float(p[i]), float(p_exact[i]))
            assert ulps_apart(float(s[i]), s_exact[i]) <= MAX_ULPS, (t, i, float(s[i]), float(s_exact[i]))
