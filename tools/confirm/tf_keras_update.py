"""Confirm, outside the suite, what Keras 3's Adagrad computes for float64 parameters on TensorFlow
(what ``tf.keras`` is since TensorFlow 2.16).

Expected (the diagnosis of ``check ... tensorflow_adagrad:TfKerasAdagrad``): eps inside the square
root, decoupled weight decay applied as p - p wd lr, and lr, weight_decay and
initial_accumulator_value held in float32 (eps kept in float64).

    .venv/bin/python tools/confirm/tf_keras_update.py
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from _formulas import GRADS, P0, adagrad, compare, f32  # noqa: E402


def run(lr: float, tau: float, eps: float, wd: float) -> np.ndarray:
    v = keras.Variable(P0, dtype="float64")
    opt = keras.optimizers.Adagrad(
        learning_rate=lr, initial_accumulator_value=tau, epsilon=eps, weight_decay=wd or None
    )
    opt.build([v])
    for g in GRADS:
        opt.apply_gradients([(tf.constant(g), v)])
    return np.asarray(v.numpy(), dtype=np.float64)


def main() -> None:
    print(
        f"keras {keras.__version__}, backend {keras.backend.backend()} (tensorflow {tf.__version__}), float64, 3 steps"
    )
    h = dict(lr=0.1, tau=0.3, eps=1e-3, wd=0.05)
    r = {**h, "lr": f32(h["lr"])}
    compare(
        "  lr 0.1, tau 0.3, eps 1e-3, weight_decay 0.05: largest relative difference from",
        run(**h),
        {
            "torch's rule (R1, R5, R7)": adagrad(**h),
            "eps inside + decoupled weight decay": adagrad(**h, eps_inside=True, decoupled="sub"),
            "eps inside + decoupled, lr in float32": adagrad(**r, eps_inside=True, decoupled="sub"),
            "eps inside + decoupled, lr and wd in float32": adagrad(
                **{**r, "wd": f32(h["wd"])}, eps_inside=True, decoupled="sub"
            ),
            "eps inside + decoupled, lr, wd and tau in float32": adagrad(
                **{**r, "wd": f32(h["wd"]), "tau": f32(h["tau"])}, eps_inside=True, decoupled="sub"
            ),
            "eps inside + decoupled, lr, wd, tau and eps in float32": adagrad(
                lr=f32(0.1), tau=f32(0.3), eps=f32(1e-3), wd=f32(0.05), eps_inside=True, decoupled="sub"
            ),
        },
    )


if __name__ == "__main__":
    main()
