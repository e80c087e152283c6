"""Confirm, outside the suite, what docs/diagnosis.md says Keras 3 and optax do, then diagnose them.

Part 1 drives each library directly (no adapter, no suite code) on float64 values and compares its
parameters after three steps with hand-written NumPy formulas: torch's rule (spec R1), eps
inside the square root, decoupled weight decay, and (optax) a zero gradient on an empty
accumulator with eps = 0. The formula that matches to float64 rounding is what the library does.

Part 2 runs each library through its adapter on a few cases (harness.run_target), keeps the
records that fail, and prints the diagnosis: it must name what part 1 measured.

    KERAS_BACKEND=torch .venv/bin/python tools/diagnosis_confirm.py [keras] [optax]
"""

from __future__ import annotations

import os
import sys

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")

P0 = np.array([0.5, -1.25, 2.0, -0.125])
GRADS = [np.array([0.3, -0.7, 1.1, 0.05]), np.array([-0.2, 0.4, 0.9, -0.6]), np.array([0.8, 0.1, -0.5, 0.25])]


def formula(
    lr: float, tau: float, eps: float, wd: float, *, inside: bool, decoupled: bool, lr32: bool = False
) -> np.ndarray:
    """Three steps of Adagrad in float64 with the denominator and weight decay chosen.

    ``lr32``: the lr held in float32 and the decoupled factor 1 - lr * wd computed in float32.
    """
    f32 = np.float32
    lr = float(f32(lr)) if lr32 else lr
    factor = float(f32(f32(1) - f32(lr) * f32(wd))) if lr32 else 1.0 - lr * wd
    p, s = P0.copy(), np.full_like(P0, tau)
    for g in GRADS:
        if wd and not decoupled:
            g = g + wd * p
        s = s + g * g
        d = np.sqrt(s + eps) if inside else np.sqrt(s) + eps
        p = (p * factor if wd and decoupled else p) - lr * g / d
    return p


def report(name: str, got: np.ndarray, candidates: dict[str, np.ndarray]) -> None:
    print(f"{name}: parameters after 3 steps vs each formula (max relative difference)")
    for label, want in candidates.items():
        rel = float(np.max(np.abs(got - want) / np.abs(want)))
        print(f"    {label:58s} {rel:.2e}")


def keras_direct() -> np.ndarray:
    import keras

    v = keras.Variable(keras.ops.convert_to_tensor(P0), dtype="float64")
    opt = keras.optimizers.Adagrad(learning_rate=0.1, initial_accumulator_value=0.1, epsilon=0.1, weight_decay=0.05)
    opt.build([v])
    for g in GRADS:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), v)])
    return np.asarray(keras.ops.convert_to_numpy(v.value), dtype=np.float64)


def optax_direct(tau: float, eps: float, grads: list[np.ndarray]) -> np.ndarray:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax

    tx = optax.adagrad(learning_rate=0.1, initial_accumulator_value=tau, eps=eps)
    p = jnp.asarray(P0)
    state = tx.init(p)
    for g in grads:
        updates, state = tx.update(jnp.asarray(g), state, p)
        p = optax.apply_updates(p, updates)
    return np.asarray(p)


def part1(which: list[str]) -> None:
    print("== part 1: the libraries against hand-written formulas (float64, lr 0.1, tau 0.1, eps 0.1) ==")
    if "keras" in which:
        cands = {
            f"{'eps inside' if i else 'eps outside (R7)'}, {'decoupled wd' if d else 'wd in gradient (R5)'}": formula(
                0.1, 0.1, 0.1, 0.05, inside=i, decoupled=d
            )
            for i in (False, True)
            for d in (False, True)
        }
        cands["eps inside, decoupled wd, lr (and 1 - lr wd) in float32"] = formula(
            0.1, 0.1, 0.1, 0.05, inside=True, decoupled=True, lr32=True
        )
        report("keras 3 (weight_decay 0.05)", keras_direct(), cands)
    if "optax" in which:
        cands = {
            "eps outside (R7)": formula(0.1, 0.1, 0.1, 0.0, inside=False, decoupled=False),
            "eps inside": formula(0.1, 0.1, 0.1, 0.0, inside=True, decoupled=False),
        }
        report("optax", optax_direct(0.1, 0.1, GRADS), cands)
        zero = [np.array([0.0, -0.7, 1.1, 0.05])]
        got = optax_direct(0.0, 0.0, zero)
        print(
            f"    optax, eps 0, tau 0, zero gradient on element 0: param {got[0]!r} (R7: 0/0 = nan; unchanged = 0/0 guarded)"
        )


def part2(which: list[str]) -> None:
    from adagrad.conformance.adapters import resolve
    from adagrad.conformance.diagnosis import Record, diagnose
    from adagrad.conformance.engine.harness import Case, run_target

    print("\n== part 2: the diagnosis of each library, from its adapter's trajectories ==")
    rng = np.random.default_rng(14)
    cases = []
    for wd in (0.0, 0.05):
        for eps in (1e-10, 0.1):
            for dtype in ("float64", "float32"):
                params = [np.float32(rng.uniform(-2, 2, 6)).astype(np.float64)]
                grads = [[np.float32(rng.uniform(-1, 1, 6)).astype(np.float64)] for _ in range(4)]
                hyper = dict(
                    lr=0.1, lr_decay=0.0, weight_decay=wd, initial_accumulator_value=0.1, eps=eps, maximize=False
                )
                cases.append(Case(dtype=dtype, params=params, grads=grads, groups=[{**hyper, "params": [0]}]))
    specs = {
        "keras": "adagrad.conformance.adapters.keras_adagrad:KerasAdagrad",
        "optax": "adagrad.conformance.adapters.optax_adagrad:OptaxAdagrad",
    }
    for name in which:
        target = resolve(specs[name], "functional").target
        records = []
        for i, case in enumerate(cases):
            try:
                records.append(Record(case, list(run_target(target, case)), f"case{i}"))
            except BaseException as exc:  # the adapter refuses what the library cannot express (Unsupported)
                if isinstance(exc, KeyboardInterrupt):
                    raise
        print(f"{name}: {len(records)} cases run")
        print("    " + diagnose(records).summary().replace("\n", "\n    "))


if __name__ == "__main__":
    chosen = [a for a in sys.argv[1:] if a in ("keras", "optax")] or ["keras", "optax"]
    part1(chosen)
    part2(chosen)
