"""The catalogue of known semantic variants of Adagrad: what each changes, the rules it breaks.

Each :class:`Variant` is a small, documented change of the spec's update (a set of switches on
:class:`~.semantics.Semantics`). Some carry a continuous (or discrete) parameter that the
diagnosis fits to the target (:class:`Fit`), e.g. the value of a hidden eps. ``libraries``
lists where the variant was measured by a script outside the suite (``docs/diagnosis.md``
gives the commands); ``reported`` lists where issue 14 says it was measured, not re-measured
here. Order matters: the diagnosis tries variants in this order (cheap and exact first) and,
between equally good explanations, names the earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from adagrad.conformance.diagnosis.semantics import Semantics

__all__ = ["CATALOGUE", "Fit", "Variant", "semantics_of", "variant"]


@dataclass(frozen=True)
class Fit:
    """A variant's parameter: the :class:`Semantics` field it sets and how to find its value.

    ``grid``: ``"log"`` (positive, over ``lo..hi`` decades), ``"linear"`` (``lo..hi``) or
    ``"choices"`` (try each of ``choices``). ``observe``: which first-step value pins it
    (``"param"`` or ``"sum"``). ``default``: the value used when the variant plays the target.
    """

    field: str
    default: Any
    grid: str
    lo: float = 0.0
    hi: float = 1.0
    observe: str = "param"
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Variant:
    """A named departure from the spec: ``knobs`` set on :class:`Semantics`, rules it breaks."""

    name: str
    label: str
    changes: str
    rules: tuple[str, ...]
    knobs: dict[str, Any] = field(default_factory=dict)
    fit: Fit | None = None
    #: what part of the update it touches: two variants touching the same part do not combine.
    part: str = ""
    libraries: tuple[str, ...] = ()
    reported: tuple[str, ...] = ()
    #: 0: compared under the case's own error model; 1: under a looser one (a narrower dtype's,
    #: or a decayed lr bounded in float32). A looser variant is named only when no exact one explains.
    looseness: int = 0
    #: how the numbers are held rather than what is computed: tried on top of a pair of other variants.
    modifier: bool = False

    def semantics(self, base: Semantics | None = None, value: Any = None) -> Semantics:
        """``base`` (default: R1) with this variant's switches; ``value`` for a fitted parameter."""
        sem = replace(base or Semantics(), **self.knobs)
        if self.fit is not None:
            sem = replace(sem, **{self.fit.field: self.fit.default if value is None else value})
        return sem


CATALOGUE: tuple[Variant, ...] = (
    Variant(
        "eps-inside-sqrt",
        "eps inside the square root",
        "divides by sqrt(s + eps) instead of sqrt(s) + eps",
        ("R7",),
        {"eps_inside": True},
        part="eps-place",
        libraries=("optax", "Keras 3", "Keras 3 on TensorFlow"),
        reported=("tf_keras", "MXNet 1.x", "TF.js", "river"),
    ),
    Variant(
        "no-eps",
        "no eps at all",
        "divides by sqrt(s): the eps given is ignored",
        ("R7",),
        {"eps_absent": True},
        part="eps-place",
        reported=("jax.example_libraries", "tf.raw_ops ApplyAdagrad", "tf.compat.v1"),
    ),
    Variant(
        "guard-zero",
        "0/0 guarded to 0",
        "where the accumulator is 0 the update is 0 (no NaN with eps = 0)",
        ("R7",),
        {"guard_zero": True},
        part="guard",
        libraries=("optax",),
    ),
    Variant(
        "update-only-where-positive",
        "update 0 unless the accumulator is positive",
        "where(s > 0, g / d, 0): an element whose accumulator is 0 or NaN is not updated, so a NaN gradient "
        "leaves the parameter unchanged (no 0/0 NaN with eps = 0 either)",
        ("R7", "R25"),
        {"guard_update": True},
        part="guard",
        libraries=("torchopt",),
    ),
    Variant(
        "decoupled-weight-decay",
        "decoupled weight decay",
        "p -= clr * weight_decay * p; the gradient (and so the accumulator) gets no weight-decay term",
        ("R5",),
        {"decoupled_wd": True},
        part="wd",
        libraries=("Keras 3", "Keras 3 on TensorFlow"),
        reported=("tf_keras", "MXNet 1.x"),
    ),
    Variant(
        "weight-decay-not-accumulated",
        "weight decay left out of the accumulator",
        "s += g^2 without the weight-decay term; the update still uses g + weight_decay * p",
        ("R5",),
        {"wd_not_accumulated": True},
        part="wd",
    ),
    Variant(
        "weight-decay-always-added",
        "weight decay term added when weight_decay = 0",
        "g + weight_decay * p is computed for weight_decay = 0 too: 0 * p is NaN where p is NaN or infinite, "
        "so a non-finite parameter makes the gradient and the accumulator NaN",
        ("R5",),
        {"wd_always": True},
        part="wd-zero",
        libraries=("ONNX",),
    ),
    Variant(
        "maximize-after-weight-decay",
        "maximize after weight decay",
        "the sign flip applied to g + weight_decay * p (weight decay then pushes the wrong way)",
        ("R4",),
        {"maximize_after_wd": True},
        part="maximize",
    ),
    Variant(
        "maximize-ignored",
        "maximize ignored",
        "maximize has no effect",
        ("R4",),
        {"maximize_ignored": True},
        part="maximize",
        libraries=("bitsandbytes (a group's maximize)", "DeepSpeed (an edited maximize)"),
    ),
    Variant(
        "lr-decay-off-by-one",
        "lr_decay off by one step",
        "lr / (1 + t * lr_decay): decayed from the first step",
        ("R3",),
        {"lr_decay_offset": 1},
        part="decay",
    ),
    Variant(
        "lr-decay-ignored",
        "lr_decay ignored",
        "lr_decay has no effect: the lr is never decayed",
        ("R3",),
        {"lr_decay_ignored": True},
        part="decay",
        libraries=("bitsandbytes (a group's lr_decay)", "DeepSpeed (an edited lr_decay)"),
    ),
    Variant(
        "decay-per-group-step",
        "decay applied per group step",
        "lr_decay uses the group's count of step() calls (not restored by load_state_dict), not the parameter's t",
        ("R2", "R3"),
        {"decay_counter": "group"},
        part="counter",
    ),
    Variant(
        "shared-step-counter",
        "one step counter shared by all parameters",
        "a single counter, advanced at every parameter's update, is every parameter's t",
        ("R2",),
        {"decay_counter": "shared"},
        part="counter",
    ),
    Variant(
        "step-advances-without-grad",
        "step advances without a gradient",
        "a parameter whose grad is None still advances its step count",
        ("R15",),
        {"step_without_grad": True},
        part="skip",
    ),
    Variant(
        "update-with-old-accumulator",
        "update with the old accumulator",
        "divides by sqrt(s_old) + eps, the accumulator before this step's g^2",
        ("R1",),
        {"old_accumulator": True},
        part="denominator",
    ),
    Variant(
        "no-square-root",
        "no square root",
        "divides by s + eps instead of sqrt(s) + eps",
        ("R1",),
        {"no_sqrt": True},
        part="denominator",
    ),
    Variant(
        "lr-edits-ignored",
        "lr edits ignored",
        "a group's lr is read once, when the group is created",
        ("R31",),
        {"lr_edits_ignored": True},
        part="edits",
    ),
    Variant(
        "sparse-squares-summed",
        "sparse duplicates squared before summing",
        "an uncoalesced sparse gradient adds the sum of its entries' squares, not the square of their sum",
        ("R9",),
        {"sparse_square_first": True},
        part="sparse",
    ),
    Variant(
        "complex-shared-accumulator",
        "one accumulator for a complex parameter",
        "a complex parameter accumulates |g|^2 once for both parts and divides by its square root",
        ("R11",),
        {"complex_shared": True},
        part="complex",
    ),
    Variant(
        "step-counter-in-dtype",
        "step counter in the parameter's dtype",
        "t is held in the parameter's dtype: it stops at 2048 in float16, 256 in bfloat16 (as D2 at 2**24 in float32)",
        ("R2",),
        {"step_in_dtype": True},
        part="counter-dtype",
    ),
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

_BY_NAME = {v.name: v for v in CATALOGUE}


def variant(name: str) -> Variant:
    """The catalogue entry called ``name``; ``KeyError`` naming the known ones otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown variant {name!r}; known: {', '.join(_BY_NAME)}") from None


def semantics_of(*names: str, **values: Any) -> Semantics:
    """The semantics of one or more variants together; ``values`` sets fitted parameters by variant name.

    Example: ``semantics_of("eps-inside-sqrt", "hidden-eps", **{"hidden-eps": 1e-6})``.
    """
    sem = Semantics()
    for name in names:
        sem = variant(name).semantics(sem, values.get(name))
    return sem
