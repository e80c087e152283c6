"""TensorFlow's Adagrads, through the functional protocol: Keras on the TensorFlow backend, and
the raw kernel ``ResourceApplyAdagradV2`` (the resource-variable form of ``ApplyAdagradV2``).

The raw op::

    accum = accum + grad * grad
    var = var - lr * grad / (sqrt(accum) + epsilon)

Mapping for the op: lr -> lr, eps -> epsilon, initial_accumulator_value -> the accumulator the
caller creates. It has no lr_decay, weight_decay or maximize: unsupported. Use:
``check --adapter functional adagrad.conformance.adapters.tensorflow_adagrad:ApplyAdagradV2``
and ``...tensorflow_adagrad:TfKerasAdagrad`` (``keras_adagrad`` with ``KERAS_BACKEND=tensorflow``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

os.environ["KERAS_BACKEND"] = "tensorflow"  # before keras is imported: this module is TensorFlow's

from adagrad.conformance.adapters.base import Unsupported  # noqa: E402
from adagrad.conformance.adapters.common import NUMERIC_FEATURES, refuse  # noqa: E402
from adagrad.conformance.adapters.keras_adagrad import KerasAdagrad  # noqa: E402

__all__ = ["ApplyAdagradV2", "TfKerasAdagrad"]


class TfKerasAdagrad(KerasAdagrad):
    """``keras.optimizers.Adagrad`` on the TensorFlow backend (what ``tf.keras`` is in TF 2.16+)."""

    def init(self, params: Sequence[np.ndarray], hyperparameters: Mapping[str, Any]) -> Any:
        import keras

        if keras.backend.backend() != "tensorflow":
            raise Unsupported(f"Keras was already set up with the {keras.backend.backend()} backend in this process")
        return super().init(params, hyperparameters)


def _tf_dtype(x: np.ndarray) -> Any:
    import tensorflow as tf

    return {"float64": tf.float64, "float32": tf.float32, "float16": tf.float16, "bfloat16": tf.bfloat16}[x.dtype.name]


def _to_tf(x: np.ndarray) -> Any:
    import tensorflow as tf

    if x.dtype.name == "bfloat16":
        return tf.cast(tf.constant(x.astype(np.float32)), tf.bfloat16)
    return tf.constant(x)


def _to_np(t: Any, like: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    if like.dtype.name == "bfloat16":
        return tf.cast(t, tf.float32).numpy().astype(like.dtype)
    return np.asarray(t.numpy())


class ApplyAdagradV2:
    """The functional protocol over ``tf.raw_ops.ResourceApplyAdagradV2``; state: accumulators and counts."""

    features = NUMERIC_FEATURES | {"missing-grads", "lr-schedule"}

    def init(self, params: Sequence[np.ndarray], hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
        h = hyperparameters
        refuse(
            h,
            "ApplyAdagradV2",
            lr_decay="no learning-rate decay",
            weight_decay="no weight decay",
            maximize="no maximize",
        )
        tau = h["initial_accumulator_value"]
        return {"h": dict(h), "sums": [np.full(p.shape, tau).astype(p.dtype) for p in params], "t": [0] * len(params)}

    def step(
        self, state: dict[str, Any], params: Sequence[np.ndarray], grads: Sequence[np.ndarray | None]
    ) -> tuple[list[np.ndarray], dict[str, Any]]:
        import tensorflow as tf

        h = state["h"]
        out, sums, counts = [], [], []
        for p, g, s, t in zip(params, grads, state["sums"], state["t"]):
            if g is None:
                out.append(p), sums.append(s), counts.append(t)
                continue
            var, acc = tf.Variable(_to_tf(p)), tf.Variable(_to_tf(s))
            dt = _tf_dtype(p)
            tf.raw_ops.ResourceApplyAdagradV2(
                var=var.handle,
                accum=acc.handle,
                lr=tf.constant(h["lr"], dt),
                epsilon=tf.constant(h["eps"], dt),
                grad=_to_tf(g),
            )
            out.append(_to_np(var, p)), sums.append(_to_np(acc, p)), counts.append(t + 1)
        return out, {**state, "sums": sums, "t": counts}

    def accumulators(self, state: dict[str, Any]) -> list[np.ndarray]:
        return list(state["sums"])  # in the parameter's dtype, as the kernel keeps them (bfloat16 included)

    def step_counts(self, state: dict[str, Any]) -> list[int]:
        return list(state["t"])

    def load(self, state: dict[str, Any], sums: Sequence[np.ndarray], steps: Sequence[int]) -> dict[str, Any]:
        return {**state, "sums": list(sums), "t": list(steps)}

    def set_hyperparameters(self, state: dict[str, Any], hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
        refuse(
            hyperparameters,
            "ApplyAdagradV2",
            lr_decay="no learning-rate decay",
            weight_decay="no weight decay",
            maximize="no maximize",
        )
        return {**state, "h": dict(hyperparameters)}
