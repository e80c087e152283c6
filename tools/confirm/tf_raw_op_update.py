"""Confirm, outside the suite, what TensorFlow's ``ResourceApplyAdagradV2`` kernel does with subnormal
numbers (float32, CPU).

Expected (the diagnosis of ``check ... tensorflow_adagrad:ApplyAdagradV2``): subnormals flushed to
zero (TensorFlow's CPU kernels run with flush-to-zero and denormals-are-zero): a subnormal
parameter with a zero gradient, which the spec leaves unchanged, becomes 0.

    .venv/bin/python tools/confirm/tf_raw_op_update.py
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def step(var0: np.ndarray, grad: np.ndarray, lr: float, eps: float, accum0: float = 0.0) -> np.ndarray:
    var = tf.Variable(var0)
    acc = tf.Variable(np.full_like(var0, accum0))
    tf.raw_ops.ResourceApplyAdagradV2(
        var=var.handle,
        accum=acc.handle,
        lr=tf.constant(lr, tf.float32),
        epsilon=tf.constant(eps, tf.float32),
        grad=tf.constant(grad),
    )
    return var.numpy()


def main() -> None:
    tiny = np.float32(2.0**-140)  # subnormal in float32 (below 2**-126)
    var0 = np.array([tiny, -tiny, 0.5], dtype=np.float32)
    got = step(var0, np.array([0.0, 0.0, 0.25], dtype=np.float32), 0.1, 1e-7)
    print(f"tensorflow {tf.__version__}, ResourceApplyAdagradV2 on CPU, float32, one step")
    print(
        f"  params [{float(tiny):.3g}, {float(-tiny):.3g}, 0.5] (the first two subnormal), gradient [0, 0, 0.25]: "
        f"the kernel gives [{float(got[0])!r}, {float(got[1])!r}, {float(got[2])!r}]; the spec leaves a "
        f"zero-gradient element unchanged ({float(tiny)!r}): subnormals flushed to zero"
    )
    lr = float(np.float32(2.0**-130))  # a subnormal lr: the update itself is subnormal
    got = step(np.array([1.0, 2.0**-120], dtype=np.float32), np.array([1.0, 1.0], dtype=np.float32), lr, 0.0)
    exact = np.array([1.0, 2.0**-120]) - lr * 1.0 / 1.0
    print(
        f"  lr {lr:.3g} (subnormal), gradient 1, params [1.0, {2.0**-120:.3g}]: the kernel gives "
        f"[{float(got[0])!r}, {float(got[1])!r}]; float32 arithmetic without flushing gives "
        f"[{float(np.float32(exact[0]))!r}, {float(np.float32(exact[1]))!r}]: the subnormal lr is read as 0"
    )


if __name__ == "__main__":
    main()
