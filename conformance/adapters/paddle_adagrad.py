"""PaddlePaddle's ``paddle.optimizer.Adagrad`` (dynamic graph), through the functional protocol.

Paddle::

    g = g + weight_decay * p        (a float weight_decay is L2Decay, added to the gradient)
    s = s + g * g                   (s starts at initial_accumulator_value)
    p = p - lr * g / (sqrt(s) + epsilon)

Mapping: lr -> learning_rate, eps -> epsilon, weight_decay -> weight_decay,
initial_accumulator_value -> initial_accumulator_value. No lr_decay (Paddle's InverseTimeDecay
is stepped per epoch by the user, not by the optimizer) and no maximize: unsupported. The
gradient is set by backpropagating ``sum(p * g)``, whose gradient is exactly ``g``. Use:
``check --adapter functional adagrad.conformance.adapters.paddle_adagrad:PaddleAdagrad``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from adagrad.conformance.adapters.base import Unsupported
from adagrad.conformance.adapters.common import NUMERIC_FEATURES, LibraryAdagrad

__all__ = ["PaddleAdagrad"]


def _to_paddle(x: np.ndarray) -> Any:
    import paddle

    if x.dtype.name == "bfloat16":
        return paddle.to_tensor(x.astype(np.float32)).astype("bfloat16")
    return paddle.to_tensor(x)


def _to_np(t: Any, like: np.ndarray) -> np.ndarray:
    if like.dtype.name == "bfloat16":
        return t.astype("float32").numpy().astype(like.dtype)
    return np.asarray(t.numpy())


class PaddleAdagrad(LibraryAdagrad):
    """The functional protocol over ``paddle.optimizer.Adagrad``; state ``(optimizer, parameters)``."""

    features = NUMERIC_FEATURES | {"missing-grads"}
    library = "paddle.optimizer.Adagrad"
    lacks = {"lr_decay": "no learning-rate decay inside the optimizer", "maximize": "no maximize"}

    def init(self, params: Sequence[np.ndarray], hyperparameters: Mapping[str, Any]) -> Any:
        import paddle

        h = hyperparameters
        self.refuse_lacking(h)
        paddle.set_device("cpu")
        # the learning-rate variable takes the default dtype: float32 beside float64 params fails
        paddle.set_default_dtype("float64" if any(p.dtype == np.float64 for p in params) else "float32")
        tensors = []
        for p in params:
            t = paddle.create_parameter(list(p.shape), dtype="float32" if p.dtype.name == "bfloat16" else p.dtype.name)
            if p.dtype.name in ("bfloat16", "float16"):
                # the gradient is set through a multiply, which Paddle's CPU build has no half kernels for
                raise Unsupported(f"{p.dtype.name} parameters (Paddle's CPU kernels lack half-precision multiply)")
            t.set_value(_to_paddle(p))
            tensors.append(t)
        opt = paddle.optimizer.Adagrad(
            learning_rate=h["lr"],
            epsilon=h["eps"],
            parameters=tensors,
            weight_decay=h["weight_decay"] or None,
            initial_accumulator_value=h["initial_accumulator_value"],
        )
        return opt, tensors

    def step(
        self, state: Any, params: Sequence[np.ndarray], grads: Sequence[np.ndarray | None]
    ) -> tuple[list[np.ndarray], Any]:

        opt, tensors = state
        loss = None
        for t, p, g in zip(tensors, params, grads):
            t.set_value(_to_paddle(p))
            if g is not None:
                term = (t * _to_paddle(g)).sum()
                loss = term if loss is None else loss + term
        if loss is not None:
            loss.backward()
            opt.step()
        opt.clear_grad()
        return [_to_np(t, p) for t, p in zip(tensors, params)], state

    def _moment(self, opt: Any, t: Any) -> Any:
        acc = opt._accumulators.get("moment", {}).get(t.name)
        if acc is None:  # created lazily at the first step: before it, the initial value
            return None
        return acc

    def accumulators(self, state: Any) -> list[np.ndarray]:
        opt, tensors = state
        out = []
        for t in tensors:
            acc = self._moment(opt, t)
            tau = opt.initial_accumulator_value
            out.append(np.full(t.shape, tau, dtype=t.numpy().dtype) if acc is None else acc.numpy())
        return out

    def load(self, state: Any, sums: Sequence[np.ndarray], steps: Sequence[int]) -> Any:
        opt, tensors = state
        for t, s in zip(tensors, sums):
            acc = self._moment(opt, t)
            if acc is None:
                opt._create_accumulators(paddle_block(), [t])
                acc = self._moment(opt, t)
            acc.set_value(_to_paddle(s))
        return state


def paddle_block() -> Any:
    import paddle

    return paddle.static.default_main_program().global_block()
