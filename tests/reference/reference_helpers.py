"""Shared helpers for the oracle's tests: an exact rational model of spec R1 and strategies.

The rational model (:func:`exact_trajectory`) is written from docs/spec.md, independently of
``adagrad.reference``: it never calls the oracle, so the oracle can be checked against it.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = [
    "HYPER_OFF",
    "exact_sqrt",
    "exact_trajectory",
    "finite_arrays",
    "shapes",
    "ulps_apart",
]

#: Every hyperparameter at its "off" value (lr aside).
HYPER_OFF = {"lr_decay": 0.0, "weight_decay": 0.0, "eps": 1e-10, "maximize": False}


def exact_sqrt(x: Fraction) -> Fraction:
    """The exact square root of a rational that is the square of a rational; else AssertionError.

    A fraction in lowest terms is a rational square iff its numerator and denominator are
    integer squares, so the check is exact.
    """
    n, d = x.numerator, x.denominator
    rn, rd = math.isqrt(n), math.isqrt(d)
    if rn * rn != n or rd * rd != d:
        raise AssertionError(f"{x} is not the square of a rational: the exact case is mis-designed")
    return Fraction(rn, rd)


def exact_trajectory(
    param: list[float],
    grads: list[list[float]],
    *,
    lr: float,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> list[tuple[list[Fraction], list[Fraction]]]:
    """Spec R1 in exact rational arithmetic; returns ``(param, sum)`` after every step.

    Every float input is converted exactly (``Fraction(float)``), so the only source of error
    is the oracle's own rounding.
    """
    p = [Fraction(x) for x in param]
    s = [Fraction(initial_accumulator_value)] * len(p)
    gamma, eta, lam, e = Fraction(lr), Fraction(lr_decay), Fraction(weight_decay), Fraction(eps)
    out = []
    for t, grad in enumerate(grads, start=1):
        clr = gamma / (1 + (t - 1) * eta)
        new_p, new_s = [], []
        for pi, si, gi in zip(p, s, grad):
            g = Fraction(gi)
            if maximize:
                g = -g
            if lam != 0:
                g = g + lam * pi
            si = si + g * g
            new_s.append(si)
            new_p.append(pi - clr * g / (exact_sqrt(si) + e))
        p, s = new_p, new_s
        out.append((p, s))
    return out


def ulps_apart(actual: float, exact: Fraction) -> float:
    """|actual - exact| in float64 ulps at the exact value (0 at an exact match)."""
    diff = abs(Fraction(actual) - exact)
    return float(diff / Fraction(math.ulp(float(exact)))) if diff else 0.0


def shapes(max_dims: int = 3, max_side: int = 4) -> st.SearchStrategy[tuple[int, ...]]:
    """Small non-empty shapes, scalars (0-d) included."""
    return hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=1, max_side=max_side)


def finite_arrays(shape, *, magnitude: float = 10.0, dyadic: bool = False) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of ``shape`` with finite elements in [-magnitude, magnitude].

    ``dyadic=True`` draws multiples of 1/8 only, so sums of a few of them are exact: tests
    that compare two summation orders can then require bitwise equality.
    """
    if dyadic:
        bound = int(magnitude * 8)
        elements = st.integers(-bound, bound).map(lambda k: k / 8)
    else:
        elements = st.floats(-magnitude, magnitude, allow_nan=False, allow_infinity=False)
    return hnp.arrays(np.float64, shape, elements=elements)
