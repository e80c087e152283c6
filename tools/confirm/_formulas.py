"""Adagrad written out by hand in float64 NumPy, with the knobs the confirmation scripts compare.

Nothing of the suite is imported: these scripts confirm what a library computes without the
code whose verdict they check. Each script drives its library directly on the same few values,
compares the result with several hand-written formulas and prints the relative differences;
the formula that matches to float64 rounding (here: bit for bit) is what the library computes.
"""

from __future__ import annotations

import numpy as np

#: Four elements, three steps: small enough to read, varied enough to tell the formulas apart.
P0 = np.array([0.5, -1.25, 2.0, -0.125])
GRADS = [np.array([0.3, -0.7, 1.1, 0.05]), np.array([-0.2, 0.4, 0.9, -0.6]), np.array([0.8, 0.1, -0.5, 0.25])]


def f32(x: float) -> float:
    """``x`` rounded to float32 (a float64 holding the float32 value)."""
    return float(np.float32(x))


def adagrad(
    *,
    lr: float,
    tau: float = 0.0,
    eps: float = 1e-10,
    wd: float = 0.0,
    lr_decay: float = 0.0,
    eps_inside: bool = False,
    decoupled: str | None = None,
    wd_always: bool = False,
    guard_zero: bool = False,
    schedule_f32: bool = False,
    p0: np.ndarray = P0,
    grads: list[np.ndarray] = GRADS,
) -> np.ndarray:
    """The parameters after ``len(grads)`` steps, every operation in float64 unless a knob says otherwise.

    Spec (torch): clr = lr / (1 + (t-1) lr_decay); g += wd p (if wd != 0); s += g^2;
    p -= clr g / (sqrt(s) + eps). Knobs: ``eps_inside`` divides by sqrt(s + eps);
    ``decoupled`` leaves g alone and decays p first: ``"factor32"`` p * (1 - clr wd) with the
    factor computed in float32 (Keras 3 on torch), ``"sub"`` p - p wd clr (Keras 3 on
    TensorFlow); ``wd_always`` adds wd p for wd = 0 too; ``guard_zero`` makes the update 0
    where s = 0; ``schedule_f32`` computes clr in float32 (a float32 learning-rate schedule).
    """
    p, s = np.array(p0, dtype=np.float64), np.full(len(p0), float(tau))
    with np.errstate(all="ignore"):
        for t, g in enumerate(grads, start=1):
            if schedule_f32:
                one, n = np.float32(1), np.float32(t - 1)
                clr = float(np.float32(lr) / (one + np.float32(lr_decay) * n))
            else:
                clr = lr / (1 + (t - 1) * lr_decay)
            if decoupled == "factor32":
                p = p * float(np.float32(1) - np.float32(clr) * np.float32(wd)) if wd else p
            elif decoupled == "sub":
                p = p - p * wd * clr if wd else p
            elif wd or wd_always:
                g = g + wd * p
            s = s + g * g
            d = np.sqrt(s + eps) if eps_inside else np.sqrt(s) + eps
            upd = clr * g / d
            if guard_zero:
                upd = np.where(s > 0, upd, 0.0)
            p = p - upd
    return p


def compare(title: str, got: np.ndarray, candidates: dict[str, np.ndarray]) -> str:
    """Print the largest relative difference of ``got`` from each formula; return the closest one
    (the first that is equal bit for bit, else the smallest difference)."""
    print(title)
    diffs = {}
    for label, want in candidates.items():
        with np.errstate(all="ignore"):
            rel = float(np.max(np.abs(got - want) / np.abs(want)))
        diffs[label] = 0.0 if np.array_equal(got, want, equal_nan=True) else rel
    closest = min(diffs, key=lambda k: diffs[k])
    for label, rel in diffs.items():
        note = ""
        if label == closest:
            note = "  <- equal, bit for bit" if rel == 0 else "  <- closest (float64 rounding is 1.1e-16 per operation)"
        print(f"    {label:66s} {rel:.2e}{note}")
    return closest
