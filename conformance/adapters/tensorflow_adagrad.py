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
from adagrad.conformance.adapters.keras_adagrad import KerasAdagrad  # noqa: E402
from adagrad.conformance.adapters.stateless_op import StatelessOp  # noqa: E402

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


class ApplyAdagradV2(StatelessOp):
    """The functional protocol over ``tf.raw_ops.ResourceApplyAdagradV2``; state: accumulators and counts."""

    library = "ApplyAdagradV2"
    lacks = {"lr_decay": "no learning-rate decay", "weight_decay": "no weight decay", "maximize": "no maximize"}

    def update(
        self, p: np.ndarray, g: np.ndarray, s: np.ndarray, t: int, h: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        import tensorflow as tf

        var, acc = tf.Variable(_to_tf(p)), tf.Variable(_to_tf(s))
        dt = _tf_dtype(p)
        tf.raw_ops.ResourceApplyAdagradV2(
            var=var.handle,
            accum=acc.handle,
            lr=tf.constant(h["lr"], dt),
            epsilon=tf.constant(h["eps"], dt),
            grad=_to_tf(g),
        )
        return _to_np(var, p), _to_np(acc, p)
