"""Confirm, outside the suite, what ``optax.adagrad`` computes (JAX on CPU, x64 on).

Expected (the diagnosis of ``check ... optax_adagrad:OptaxAdagrad``): eps inside the square root,
0/0 guarded to 0 (an element whose accumulator is 0 is not updated), and subnormal numbers
flushed to zero (XLA on CPU runs with flush-to-zero and denormals-are-zero).

    .venv/bin/python tools/confirm/optax_update.py
"""

from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from _formulas import GRADS, P0, adagrad, compare  # noqa: E402


def run(lr: float, tau: float, eps: float, p0: np.ndarray = P0, grads: list[np.ndarray] = GRADS) -> np.ndarray:
    tx = optax.adagrad(learning_rate=lr, initial_accumulator_value=tau, eps=eps)
    p = jnp.asarray(p0)
    state = tx.init(p)
    for g in grads:
        updates, state = tx.update(jnp.asarray(g), state, p)
        p = optax.apply_updates(p, updates)
    return np.asarray(p, dtype=np.float64)


def main() -> None:
    print(f"optax {optax.__version__}, jax {jax.__version__} (x64, {jax.default_backend()}), float64, 3 steps")
    h = dict(lr=0.1, tau=0.1, eps=0.1)
    compare(
        "  lr 0.1, tau 0.1, eps 0.1: largest relative difference from",
        run(**h),
        {"torch's rule (R1, R7)": adagrad(**h), "eps inside the square root": adagrad(**h, eps_inside=True)},
    )
    grads = [np.array([0.0, -0.7, 1.1, 0.05])]
    got = run(0.1, 0.0, 0.0, grads=grads)
    torch_rule = adagrad(lr=0.1, eps=0.0, grads=grads)
    print(
        f"  eps 0, tau 0, gradient 0 on element 0: optax leaves it at {float(got[0])!r}; torch's rule gives "
        f"{float(torch_rule[0])!r} (0/0): 0/0 guarded to 0"
    )
    tiny = 2.0**-1030  # subnormal in float64 (below 2**-1022)
    p0, lr = np.array([tiny, -tiny, 0.5, 1.0]), 2.0**-1026
    got = run(lr, 0.0, 1e-10, p0=p0, grads=[np.array([1.0, 1.0, 1.0, 1.0])])
    exact = adagrad(lr=lr, p0=p0, grads=[np.array([1.0, 1.0, 1.0, 1.0])])
    print(
        f"  param {tiny:.3g} and {-tiny:.3g} (subnormal), lr {lr:.3g} (subnormal), gradient 1: optax gives "
        f"{float(got[0])!r}, {float(got[1])!r}; float64 arithmetic gives {float(exact[0])!r}, {float(exact[1])!r}: subnormals flushed to zero"
    )


if __name__ == "__main__":
    main()
