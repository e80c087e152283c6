"""Catalogue entries with a value fitted to the target: clamped non-finite gradients, tau, eps, momentum.

Also a group's tau ignored, after the fixed initial accumulator (with the constructor's default
tau 0 the two are one). In catalogue order (:mod:`.catalogue`).
"""

from __future__ import annotations

from adagrad.conformance.diagnosis.variant import Fit, Variant

__all__ = ["FITTED"]

FITTED: tuple[Variant, ...] = (
    Variant(
        "nonfinite-replaced",
        "non-finite gradients replaced",
        "NaN gradient elements become 0 and +-inf become +-c (c fitted)",
        ("R25",),
        fit=Fit("nonfinite_clamp", 1.0, "log", -3.0, 38.0, observe="sum"),
        part="nonfinite",
    ),
    Variant(
        "fixed-initial-accumulator",
        "initial accumulator fixed (tau ignored)",
        "the accumulator starts at a fixed value whatever tau (fitted: 0 is the seed's typo, 0.1 the default of optax, Keras and TF)",
        ("R6",),
        fit=Fit("fixed_tau", 0.1, "linear", 0.0, 4.0, observe="sum"),
        part="tau",
        reported=("optax, Keras, TF (default 0.1)",),
    ),
    Variant(
        "group-tau-ignored",
        "a group's own tau ignored",
        "every parameter's accumulator starts at the constructor's initial_accumulator_value, whatever its "
        "group says (torch's divergence D1; after fixed-initial-accumulator: with the constructor's default "
        "tau 0 the two are one)",
        ("R13",),
        {"group_tau_ignored": True},
        part="tau",
        libraries=("torch.optim.Adagrad (D1)", "bitsandbytes"),
    ),
    Variant(
        "eps-zero-replaced",
        "eps = 0 replaced by a default",
        "eps = 0 is silently replaced by a default (fitted)",
        ("R7",),
        fit=Fit("eps_zero_default", 1e-7, "log", -20.0, 0.0),
        part="eps-value",
        reported=("tf_keras legacy",),
    ),
    Variant(
        "hidden-eps",
        "a hidden fixed eps",
        "a fixed eps (fitted) replaces the one given, outside the square root",
        ("R7",),
        fit=Fit("eps_value", 1e-7, "log", -20.0, 0.0),
        part="eps-value",
        reported=("MindSpore",),
    ),
    Variant(
        "momentum",
        "momentum",
        "m = (1 - b) g / d + b m; p -= clr m (b fitted)",
        ("R1",),
        fit=Fit("momentum", 0.9, "linear", 0.0, 0.999),
        part="momentum",
        reported=("jax.example_libraries",),
    ),
)
