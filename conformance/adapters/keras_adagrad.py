"""Keras 3's ``keras.optimizers.Adagrad``, through the functional protocol.

Keras::

    s = s + g * g                                 (s starts at initial_accumulator_value)
    p = p - lr * g / sqrt(s + epsilon)            (epsilon inside the square root)
    p = p - lr * weight_decay * p                 (decoupled weight decay, before the update)

Mapping: lr -> learning_rate (for lr_decay: ``InverseTimeDecay(lr, decay_steps=1,
decay_rate=lr_decay)``, Keras's own schedule, lr / (1 + lr_decay * iterations)), eps ->
epsilon, initial_accumulator_value -> initial_accumulator_value, weight_decay -> weight_decay
(same name, Keras's decoupled meaning: the matrix shows the difference). No maximize.

The backend is the one Keras is configured with (``KERAS_BACKEND``); this module picks
``torch`` when none is set, the one backend this project always has. ``tensorflow_adagrad``
runs the same optimizer on the TensorFlow backend. Use:
``check --adapter functional adagrad.conformance.adapters.keras_adagrad:KerasAdagrad``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from adagrad.conformance.adapters.base import Unsupported
from adagrad.conformance.adapters.common import NUMERIC_FEATURES, refuse

__all__ = ["KerasAdagrad"]

os.environ.setdefault("KERAS_BACKEND", "torch")


class KerasAdagrad:
    """The functional protocol over ``keras.optimizers.Adagrad``; state ``(optimizer, variables)``."""

    features = NUMERIC_FEATURES

    def init(self, params: Sequence[np.ndarray], hyperparameters: Mapping[str, Any]) -> Any:
        import keras

        h = hyperparameters
        refuse(h, "keras.optimizers.Adagrad", maximize="no maximize")
        lr: Any = h["lr"]
        if h["lr_decay"]:
            lr = keras.optimizers.schedules.InverseTimeDecay(h["lr"], decay_steps=1, decay_rate=h["lr_decay"])
        opt = keras.optimizers.Adagrad(
            learning_rate=lr,
            initial_accumulator_value=h["initial_accumulator_value"],
            epsilon=h["eps"],
            weight_decay=h["weight_decay"] or None,
        )
        variables = [keras.Variable(self._tensor(p), dtype=self._dtype(p), trainable=True) for p in params]
        opt.build(variables)
        return opt, variables

    @staticmethod
    def _dtype(p: np.ndarray) -> str:
        return p.dtype.name

    @staticmethod
    def _tensor(x: np.ndarray) -> Any:
        import keras

        return keras.ops.cast(
            keras.ops.convert_to_tensor(x.astype(np.float32) if x.dtype.name == "bfloat16" else x), x.dtype.name
        )

    @staticmethod
    def _array(v: Any, like: np.ndarray) -> np.ndarray:
        import keras

        x = keras.ops.convert_to_numpy(keras.ops.cast(v, "float32") if like.dtype.name == "bfloat16" else v)
        return np.asarray(x).astype(like.dtype) if like.dtype.name == "bfloat16" else np.asarray(x)

    def step(
        self, state: Any, params: Sequence[np.ndarray], grads: Sequence[np.ndarray | None]
    ) -> tuple[list[np.ndarray], Any]:
        opt, variables = state
        if any(g is None for g in grads):
            raise Unsupported("parameters without a gradient (Keras counts steps per optimizer)")
        for v, p in zip(variables, params):
            v.assign(self._tensor(p))
        opt.apply_gradients([(self._tensor(g), v) for g, v in zip(grads, variables)])
        return [self._array(v.value, p) for v, p in zip(variables, params)], state

    def accumulators(self, state: Any) -> list[np.ndarray]:
        opt, variables = state
        return [
            self._array(
                opt._accumulators[opt._get_variable_index(v)].value,
                np.zeros(0, dtype=np.float64 if v.dtype == "float64" else np.float32),
            )
            for v in variables
        ]

    def step_counts(self, state: Any) -> list[int]:
        opt, variables = state
        return [int(opt.iterations.numpy() if hasattr(opt.iterations, "numpy") else opt.iterations)] * len(variables)

    def load(self, state: Any, sums: Sequence[np.ndarray], steps: Sequence[int]) -> Any:
        opt, variables = state
        if len(set(steps)) > 1:
            raise Unsupported("different step counts per parameter (Keras counts iterations per optimizer)")
        for v, s in zip(variables, sums):
            opt._accumulators[opt._get_variable_index(v)].assign(self._tensor(s))
        if steps:
            opt.iterations.assign(int(steps[0]))
        return state
