"""A conformant Adagrad in plain NumPy, written to the functional protocol: a template.

Copy it to start an adapter. Check it with:
``adagrad-conformance check --adapter functional adagrad.conformance.adapters.numpy_example:NumpyAdagrad``.
Half precision (float16, bfloat16) is computed in float32 and rounded once per stored value,
as torch does; bfloat16 arrays are ``ml_dtypes.bfloat16``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from adagrad.conformance.adapters.base import CLAIMABLE

__all__ = ["NumpyAdagrad", "NumpyAdagradState"]


class NumpyAdagradState(NamedTuple):
    """Hyperparameters, accumulated squared gradients and step counts of one param group."""

    hyper: dict[str, Any]
    sums: list[np.ndarray]
    steps: list[int]


class NumpyAdagrad:
    """torch's Adagrad (spec R1) over NumPy arrays."""

    features = CLAIMABLE

    def init(self, params: Sequence[np.ndarray], hyperparameters: Mapping[str, Any]) -> NumpyAdagradState:
        tau = hyperparameters["initial_accumulator_value"]
        return NumpyAdagradState(
            dict(hyperparameters), [np.full(p.shape, tau).astype(p.dtype) for p in params], [0] * len(params)
        )

    def step(
        self, state: NumpyAdagradState, params: Sequence[np.ndarray], grads: Sequence[np.ndarray | None]
    ) -> tuple[list[np.ndarray], NumpyAdagradState]:
        h = state.hyper
        new_params, sums, steps = [], [], []
        for p, g, s, t in zip(params, grads, state.sums, state.steps):
            if g is None:  # R15: no gradient, nothing changes
                new_params.append(p), sums.append(s), steps.append(t)
                continue
            wide = np.float64 if p.dtype == np.float64 else np.float32  # opmath: half types compute in float32
            t += 1
            clr = h["lr"] / (1 + (t - 1) * h["lr_decay"])
            gw = g.astype(wide) * (-1 if h["maximize"] else 1)
            if h["weight_decay"]:
                gw = gw + wide(h["weight_decay"]) * p.astype(wide)
            s_new = (s.astype(wide) + gw * gw).astype(p.dtype)
            with np.errstate(all="ignore"):  # NaN and inf propagate (R25)
                p_new = (p.astype(wide) - wide(clr) * gw / (np.sqrt(s_new.astype(wide)) + wide(h["eps"]))).astype(
                    p.dtype
                )
            new_params.append(p_new), sums.append(s_new), steps.append(t)
        return new_params, NumpyAdagradState(h, sums, steps)

    def accumulators(self, state: NumpyAdagradState) -> list[np.ndarray]:
        return list(state.sums)

    def step_counts(self, state: NumpyAdagradState) -> list[int]:
        return list(state.steps)

    def load(self, state: NumpyAdagradState, sums: Sequence[np.ndarray], steps: Sequence[int]) -> NumpyAdagradState:
        return state._replace(sums=list(sums), steps=list(steps))

    def set_hyperparameters(self, state: NumpyAdagradState, hyperparameters: Mapping[str, Any]) -> NumpyAdagradState:
        return state._replace(hyper=dict(hyperparameters))
