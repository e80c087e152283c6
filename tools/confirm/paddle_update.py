"""Confirm, outside the suite, what ``paddle.optimizer.Adagrad`` computes for float64 parameters
(dynamic graph, CPU).

Expected (the diagnosis of ``check ... paddle_adagrad:PaddleAdagrad``): eps held in float32 (a
float attribute of the adagrad kernel); lr, weight_decay (L2Decay) and the initial accumulator
keep float64.

    .venv/bin/python tools/confirm/paddle_update.py
"""

from __future__ import annotations

import os
import warnings

os.environ.setdefault("GLOG_minloglevel", "3")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import paddle  # noqa: E402
from _formulas import GRADS, P0, adagrad, compare, f32  # noqa: E402


def run(lr: float, tau: float, eps: float, wd: float) -> np.ndarray:
    paddle.set_device("cpu")
    paddle.set_default_dtype("float64")  # the learning-rate variable takes the default dtype
    t = paddle.create_parameter([len(P0)], dtype="float64")
    t.set_value(paddle.to_tensor(P0))
    opt = paddle.optimizer.Adagrad(
        learning_rate=lr, epsilon=eps, parameters=[t], weight_decay=wd or None, initial_accumulator_value=tau
    )
    for g in GRADS:
        (t * paddle.to_tensor(g)).sum().backward()  # the gradient of sum(p * g) is g, exactly
        opt.step()
        opt.clear_grad()
    return np.asarray(t.numpy(), dtype=np.float64)


def main() -> None:
    print(f"paddle {paddle.__version__}, CPU, float64 parameters, 3 steps")
    h = dict(lr=0.1, tau=0.3, eps=0.1, wd=0.05)
    compare(
        "  lr 0.1, tau 0.3, eps 0.1, weight_decay 0.05: largest relative difference from",
        run(**h),
        {
            "torch's rule (R1, R5, R7)": adagrad(**h),
            "eps in float32": adagrad(**{**h, "eps": f32(0.1)}),
            "eps and weight_decay in float32": adagrad(**{**h, "eps": f32(0.1), "wd": f32(0.05)}),
            "eps, weight_decay, lr and tau in float32": adagrad(lr=f32(0.1), tau=f32(0.3), eps=f32(0.1), wd=f32(0.05)),
        },
    )


if __name__ == "__main__":
    main()
