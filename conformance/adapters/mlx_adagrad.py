"""MLX's ``mlx.optimizers.Adagrad``, through the functional protocol.

MLX::

    v = v + g * g                   (v starts at 0)
    p = p - lr * g / (sqrt(v) + eps)   (eps must be > 0)

Mapping: lr -> learning_rate, eps -> eps. MLX has no initial_accumulator_value, lr_decay,
weight_decay or maximize: unsupported. Use:
``check --adapter functional adagrad.conformance.adapters.mlx_adagrad:MlxAdagrad``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from adagrad.conformance.adapters.base import Unsupported
from adagrad.conformance.adapters.common import NUMERIC_FEATURES, LibraryAdagrad

__all__ = ["MlxAdagrad"]


def _to_mx(x: np.ndarray) -> Any:
    import mlx.core as mx

    if x.dtype.name == "bfloat16":  # MLX reads no ml_dtypes arrays: go through float32 (exact)
        return mx.array(x.astype(np.float32)).astype(mx.bfloat16)
    return mx.array(x)


def _to_np(x: Any, like: np.ndarray) -> np.ndarray:
    import mlx.core as mx

    if x.dtype == mx.bfloat16:
        return np.array(x.astype(mx.float32)).astype(like.dtype)
    return np.array(x)


class MlxAdagrad(LibraryAdagrad):
    """The functional protocol over ``mlx.optimizers.Adagrad``; state ``(optimizer, tree)``."""

    features = NUMERIC_FEATURES | {"missing-grads"}
    library = "mlx.optimizers.Adagrad"
    lacks = {
        "initial_accumulator_value": "no initial accumulator value (it starts at 0)",
        "lr_decay": "no learning-rate decay",
        "weight_decay": "no weight decay",
        "maximize": "no maximize",
    }

    def init(self, params: Sequence[np.ndarray], hyperparameters: Mapping[str, Any]) -> Any:
        import mlx.optimizers as optim

        h = hyperparameters
        self.refuse_lacking(h)
        if any(p.dtype == np.float64 for p in params):
            import mlx.core as mx

            if mx.array(np.ones(1)).dtype != mx.float64:  # MLX turns float64 input into float32
                raise Unsupported("float64 parameters (MLX holds them as float32)")
        if h["eps"] <= 0:
            raise Unsupported("eps=0 (mlx.optimizers.Adagrad requires eps > 0)")
        opt = optim.Adagrad(learning_rate=h["lr"], eps=h["eps"])
        tree = {str(i): _to_mx(p) for i, p in enumerate(params)}
        opt.init(tree)
        return opt, len(params)

    def step(
        self, state: Any, params: Sequence[np.ndarray], grads: Sequence[np.ndarray | None]
    ) -> tuple[list[np.ndarray], Any]:
        import mlx.core as mx

        opt, n = state
        tree = {str(i): _to_mx(p) for i, p in enumerate(params)}
        gtree = {str(i): _to_mx(g) for i, g in enumerate(grads) if g is not None}
        # MLX optimizers update the parameters present in the gradient tree: a missing one is left alone
        new = opt.apply_gradients(gtree, {k: tree[k] for k in gtree})
        mx.eval(new, opt.state)
        out = [_to_np(new[str(i)], p) if str(i) in new else p for i, p in enumerate(params)]
        return out, state

    def accumulators(self, state: Any) -> list[np.ndarray]:
        import mlx.core as mx

        opt, n = state
        out = []
        for i in range(n):
            s = opt.state[str(i)]["v"]
            if s.dtype == mx.bfloat16:  # MLX keeps a bfloat16 parameter's accumulator in bfloat16: so do we
                import ml_dtypes

                out.append(np.array(s.astype(mx.float32)).astype(ml_dtypes.bfloat16))
            else:
                out.append(np.array(s))
        return out

    def load(self, state: Any, sums: Sequence[np.ndarray], steps: Sequence[int]) -> Any:
        opt, n = state
        for i, s in enumerate(sums):
            opt.state[str(i)]["v"] = _to_mx(s)
        return state
