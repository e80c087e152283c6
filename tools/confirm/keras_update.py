"""Confirm, outside the suite, what Keras 3's Adagrad computes for float64 parameters (torch backend).

Expected (the diagnosis of ``check ... keras_adagrad:KerasAdagrad``): eps inside the square root,
decoupled weight decay, the lr held in float32 (the decoupled factor 1 - lr wd and an
InverseTimeDecay schedule computed in float32).

    .venv/bin/python tools/confirm/keras_update.py
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"

import keras  # noqa: E402
import numpy as np  # noqa: E402
from _formulas import GRADS, P0, adagrad, compare, f32  # noqa: E402


def run(lr, tau: float, eps: float, wd: float) -> np.ndarray:
    v = keras.Variable(P0, dtype="float64")
    opt = keras.optimizers.Adagrad(
        learning_rate=lr, initial_accumulator_value=tau, epsilon=eps, weight_decay=wd or None
    )
    opt.build([v])
    for g in GRADS:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), v)])
    return np.asarray(keras.ops.convert_to_numpy(v.value), dtype=np.float64)


def main() -> None:
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}, float64 parameters, 3 steps")
    h = dict(lr=0.1, tau=0.1, eps=0.1, wd=0.05)
    got = run(h["lr"], h["tau"], h["eps"], h["wd"])
    compare(
        "  lr 0.1, tau 0.1, eps 0.1, weight_decay 0.05: largest relative difference from",
        got,
        {
            "torch's rule (R1, R5, R7)": adagrad(**h),
            "eps inside the square root": adagrad(**h, eps_inside=True),
            "eps inside + decoupled weight decay": adagrad(**h, eps_inside=True, decoupled="sub"),
            "eps inside + decoupled + lr (and 1 - lr wd) in float32": adagrad(
                **{**h, "lr": f32(h["lr"])}, eps_inside=True, decoupled="factor32"
            ),
        },
    )
    sched = keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5)
    got = run(sched, 0.0, 1e-7, 0.0)
    compare(
        "  InverseTimeDecay(0.1, 1, 0.5) (lr_decay 0.5), eps 1e-7: largest relative difference from",
        got,
        {
            "eps inside, lr / (1 + 0.5 (t-1)) in float64": adagrad(lr=0.1, eps=1e-7, lr_decay=0.5, eps_inside=True),
            "eps inside, lr / (1 + 0.5 (t-1)) in float32": adagrad(
                lr=0.1, eps=1e-7, lr_decay=0.5, eps_inside=True, schedule_f32=True
            ),
        },
    )


if __name__ == "__main__":
    main()
