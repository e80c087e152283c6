"""Catalogue entries that change how the numbers are held: dtypes of hyperparameters and arithmetic.

:data:`MODIFIERS` (hyperparameters, the decay factor in float32, flushed subnormals) are tried on
top of pairs of other variants; :data:`NARROWER` (float32 arithmetic, a low-precision
accumulator) are compared under a looser error model. In catalogue order (:mod:`.catalogue`).
"""

from __future__ import annotations

from adagrad.conformance.diagnosis.variant import Fit, Variant

__all__ = ["MODIFIERS", "NARROWER"]

MODIFIERS: tuple[Variant, ...] = (
    Variant(
        "lr-float32",
        "lr held in float32",
        "the lr is a float32 value: lr / (1 + lr_decay * (t-1)) computed in float32, and a decoupled factor "
        "1 - lr * weight_decay computed in float32 (float64 parameters show it)",
        ("R30",),
        {"lr_dtype": "float32"},
        part="hyper-dtype",
        modifier=True,
        libraries=("Keras 3",),
    ),
    Variant(
        "lr-wd-tau-float32",
        "lr, weight_decay and tau held in float32",
        "lr, weight_decay and initial_accumulator_value rounded to float32 for float64 parameters (float32 "
        "variables or constants); eps and the arithmetic keep the parameter's dtype",
        ("R30",),
        {"hyper_dtype": "float32", "hyper_keys": ("lr", "weight_decay", "initial_accumulator_value")},
        part="hyper-dtype",
        modifier=True,
        libraries=("Keras 3 on TensorFlow",),
    ),
    Variant(
        "eps-float32",
        "eps held in float32",
        "eps rounded to float32 for float64 parameters (the update kernel takes it as a float attribute)",
        ("R30",),
        {"hyper_dtype": "float32", "hyper_keys": ("eps",)},
        part="hyper-dtype",
        modifier=True,
        libraries=("Paddle",),
    ),
    Variant(
        "attributes-float32",
        "eps, lr_decay and weight_decay held in float32",
        "eps, lr_decay and weight_decay rounded to float32 for float64 parameters (float attributes of an "
        "operator); lr and the accumulator keep the parameter's dtype",
        ("R30",),
        {"hyper_dtype": "float32", "hyper_keys": ("eps", "lr_decay", "weight_decay")},
        part="hyper-dtype",
        modifier=True,
        libraries=("ONNX",),
    ),
    Variant(
        "hyperparameters-float32",
        "hyperparameters held in float32",
        "lr, lr_decay, weight_decay, eps and tau rounded to float32 for float64 parameters",
        ("R30",),
        {"hyper_dtype": "float32"},
        part="hyper-dtype",
        modifier=True,
    ),
    Variant(
        "decay-factor-float32",
        "decay factor in float32",
        "1 / (1 + (t-1) lr_decay) computed in float32 for float64 parameters",
        ("R3", "R30"),
        {"decay_dtype": "float32"},
        part="decay-dtype",
        looseness=1,
        modifier=True,
        reported=("torchopt",),
    ),
    Variant(
        "subnormals-flushed",
        "subnormals flushed to zero",
        "subnormal parameters, gradients, accumulators, hyperparameters, updates and results are read and "
        "written as zero of the same sign (flush-to-zero and denormals-are-zero; float32's subnormals for "
        "float32, float16 and bfloat16)",
        ("R30",),
        {"flush_subnormals": True},
        part="subnormals",
        modifier=True,
        libraries=("optax (XLA on CPU)",),
    ),
)

NARROWER: tuple[Variant, ...] = (
    Variant(
        "float32-arithmetic",
        "float32 arithmetic for float64 parameters",
        "inputs rounded to float32 and the step computed in float32 (compared under float32's error model)",
        ("R30",),
        {"compute_dtype": "float32"},
        part="precision",
        looseness=1,
        reported=("bitsandbytes",),
    ),
    Variant(
        "accumulator-low-precision",
        "accumulator in low precision",
        "the accumulator is stored in a narrower dtype (fitted: float32, bfloat16 or float16)",
        ("R30",),
        fit=Fit("accumulator_dtype", "float32", "choices", choices=("float32", "float16", "bfloat16")),
        part="accumulator",
        looseness=1,
    ),
)
