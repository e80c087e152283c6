"""The adapter base for a library op that updates one tensor per call and leaves the state to
its caller (the ONNX Adagrad op, TensorFlow's ``ApplyAdagradV2``).

The state is ``{"h": hyperparameters, "sums": accumulators, "t": step counts}``, held here; a
parameter without a gradient is left alone (the op is not run for it), and the hyperparameters
may change between steps. A subclass names its library and what it lacks
(:class:`~.common.LibraryAdagrad`) and implements :meth:`StatelessOp.update`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from adagrad.conformance.adapters.common import NUMERIC_FEATURES, LibraryAdagrad

__all__ = ["StatelessOp"]


class StatelessOp(LibraryAdagrad):
    """The functional protocol over an op that the caller hands its accumulator and step count."""

    features = NUMERIC_FEATURES | {"missing-grads", "lr-schedule"}

    def check_params(self, params: Sequence[np.ndarray]) -> None:
        """Raise :class:`~.base.Unsupported` for parameters the op cannot take (default: none)."""

    def update(
        self, p: np.ndarray, g: np.ndarray, s: np.ndarray, t: int, h: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        """One run of the op on one tensor after ``t`` updates: the new parameter and accumulator."""
        raise NotImplementedError

    def init(self, params: Sequence[np.ndarray], hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
        self.refuse_lacking(hyperparameters)
        self.check_params(params)
        tau = hyperparameters["initial_accumulator_value"]
        return {
            "h": dict(hyperparameters),
            "sums": [np.full(p.shape, tau).astype(p.dtype) for p in params],
            "t": [0] * len(params),
        }

    def step(
        self, state: dict[str, Any], params: Sequence[np.ndarray], grads: Sequence[np.ndarray | None]
    ) -> tuple[list[np.ndarray], dict[str, Any]]:
        h = state["h"]
        out, sums, counts = [], [], []
        for p, g, s, t in zip(params, grads, state["sums"], state["t"]):
            if g is None:  # the op has no notion of a missing gradient: the caller does not run it
                out.append(p), sums.append(s), counts.append(t)
                continue
            new_p, new_s = self.update(p, g, s, t, h)
            out.append(new_p), sums.append(new_s), counts.append(t + 1)
        return out, {**state, "sums": sums, "t": counts}

    def accumulators(self, state: dict[str, Any]) -> list[np.ndarray]:
        return list(state["sums"])  # in the parameter's dtype, as the op keeps them (bfloat16 included)

    def step_counts(self, state: dict[str, Any]) -> list[int]:
        return list(state["t"])

    def load(self, state: dict[str, Any], sums: Sequence[np.ndarray], steps: Sequence[int]) -> dict[str, Any]:
        return {**state, "sums": list(sums), "t": list(steps)}

    def set_hyperparameters(self, state: dict[str, Any], hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
        self.refuse_lacking(hyperparameters)
        return {**state, "h": dict(hyperparameters)}
