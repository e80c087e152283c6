"""optax's ``optax.adagrad`` (JAX), through the functional protocol.

optax (``scale_by_rss`` then ``scale_by_learning_rate``)::

    s = s + g * g
    p = p - lr * g * (rsqrt(s + eps) if s > 0 else 0)

Mapping: lr -> learning_rate, initial_accumulator_value -> initial_accumulator_value, eps ->
eps. optax.adagrad has no lr_decay, weight_decay or maximize: those are unsupported (chaining
other transformations would be emulation, not optax's Adagrad). float64 needs JAX's x64 mode,
which this module turns on. Use:
``check --adapter functional adagrad.conformance.adapters.optax_adagrad:OptaxAdagrad``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from adagrad.conformance.adapters.common import NUMERIC_FEATURES, LibraryAdagrad

__all__ = ["OptaxAdagrad"]


class OptaxAdagrad(LibraryAdagrad):
    """The functional protocol over ``optax.adagrad``; a group's state is ``(tx, opt_state)``."""

    features = NUMERIC_FEATURES
    library = "optax.adagrad"
    lacks = {"lr_decay": "no learning-rate decay", "weight_decay": "no weight decay", "maximize": "no maximize"}

    def __init__(self) -> None:
        import jax

        jax.config.update("jax_enable_x64", True)  # else JAX silently computes float64 in float32

    def init(self, params: Sequence[np.ndarray], hyperparameters: Mapping[str, Any]) -> Any:
        import jax.numpy as jnp
        import optax

        h = hyperparameters
        self.refuse_lacking(h)
        tx = optax.adagrad(
            learning_rate=h["lr"], initial_accumulator_value=h["initial_accumulator_value"], eps=h["eps"]
        )
        return tx, tx.init([jnp.asarray(p) for p in params])

    def step(
        self, state: Any, params: Sequence[np.ndarray], grads: Sequence[np.ndarray | None]
    ) -> tuple[list[np.ndarray], Any]:
        import jax.numpy as jnp
        import optax

        from adagrad.conformance.adapters.base import Unsupported

        if any(g is None for g in grads):
            raise Unsupported("parameters without a gradient (optax updates every leaf)")
        tx, opt_state = state
        jparams = [jnp.asarray(p) for p in params]
        updates, opt_state = tx.update([jnp.asarray(g) for g in grads], opt_state, jparams)
        new = optax.apply_updates(jparams, updates)
        return [np.asarray(x) for x in new], (tx, opt_state)

    def accumulators(self, state: Any) -> list[np.ndarray]:
        return [np.asarray(s) for s in state[1][0].sum_of_squares]

    def load(self, state: Any, sums: Sequence[np.ndarray], steps: Sequence[int]) -> Any:
        import jax.numpy as jnp

        tx, opt_state = state
        rss = opt_state[0]._replace(sum_of_squares=[jnp.asarray(s) for s in sums])
        return tx, (rss, *opt_state[1:])
