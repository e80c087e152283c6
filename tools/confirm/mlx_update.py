"""Confirm, outside the suite, why ``mlx.optimizers.Adagrad`` fails the float16 zero-gradient check
(CPU): eps = 1e-10 is below float16's range, so sqrt(0) + eps is 0 and a zero gradient on an empty
accumulator gives 0/0 = NaN; torch's for-loop does the same (its divergence D3), the spec leaves
the parameter unchanged (R7, R30). Nothing else of MLX differs in the quick profile's numerics
(float64 is unsupported: MLX has no float64 on its CPU device).

    .venv/bin/python tools/confirm/mlx_update.py
"""

from __future__ import annotations

import mlx.core as mx
import mlx.optimizers as optim
import numpy as np
import torch


def mlx_step(eps: float) -> list[float]:
    opt = optim.Adagrad(learning_rate=0.1, eps=eps)
    params = {"p": mx.array([1.5, -0.25, 0.0]).astype(mx.float16)}
    grads = {"p": mx.zeros((3,)).astype(mx.float16)}
    new = opt.apply_gradients(grads, params)
    mx.eval(new)
    return np.array(new["p"].astype(mx.float32)).tolist()


def torch_step(eps: float) -> list[float]:
    p = torch.tensor([1.5, -0.25, 0.0], dtype=torch.float16, requires_grad=True)
    opt = torch.optim.Adagrad([p], lr=0.1, eps=eps, foreach=False)
    p.grad = torch.zeros(3, dtype=torch.float16)
    opt.step()
    return p.detach().float().tolist()


def main() -> None:
    print(f"mlx {mx.__version__} (CPU), float16 params [1.5, -0.25, 0.0], a zero gradient, one step")
    for eps in (1e-10, 1e-3):
        print(
            f"  eps {eps:g} (in float16: {float(np.float16(eps))!r}): mlx gives {mlx_step(eps)}, "
            f"torch's for-loop {torch_step(eps)}"
        )


if __name__ == "__main__":
    main()
