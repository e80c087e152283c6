"""The mutant zoo: Adagrads that each break one rule, and variants that are conformant differently.

Every mutant is torch's Adagrad with one rule of docs/spec.md broken, through a small override;
``MUTANTS`` maps each to the feature the suite must name when it fails. ``VARIANTS`` compute the
same rule another way (another rounding order, float64 inside, torch's own paths) and must pass.
Targets are named ``tests.conformance.zoo:NAME`` (the tests put the repository root on sys.path).
"""

from __future__ import annotations

from .api_mutants import *  # noqa: F403 - every member is a target: tests.conformance.zoo:NAME
from .base import _Grouped, _Update, torch_foreach  # noqa: F401 - torch_foreach is a target too
from .path_mutants import *  # noqa: F403
from .rule_mutants import *  # noqa: F403
from .variants import *  # noqa: F403

MUTANTS: dict[str, str] = {
    "EpsInsideSqrt": "hyperparameters",
    "LrDecayOffByOne": "hyperparameters",
    "WeightDecayNotAccumulated": "hyperparameters",
    "MaximizeAfterWeightDecay": "hyperparameters",
    "MaximizeIgnored": "hyperparameters",
    "AccumulatorStartsAtZero": "hyperparameters",
    "NoSquareRoot": "numerics-float64",
    "StepAdvancesWithoutGrad": "missing-grads",
    "SharedStepCounter": "missing-grads",
    "MutatesGradient": "grad-readonly",
    "ClampsNonFinite": "non-finite",
    "LrReadOnce": "lr-schedule",
    "ZeroGradKeepsTensors": "zero-grad",
    "ClosureWithoutGrad": "closure",
    "AcceptsNegativeLr": "validation",
    "LoadIgnoresHyperparameters": "state-dict",
    "SparseSquaresBeforeSumming": "sparse",
    "SparseDensified": "sparse",  # found by a blind probe: an absent row updated (0/0 at eps = 0)
    "ComplexSharedAccumulator": "complex",
    "NoGradThroughStep": "differentiable",
    "ReplacesParamStorage": "layouts",
    "CrashesOnStep": "(crashed)",  # xdist reports a crashed worker's tests without their markers
    "HangsOnStep": "numerics-float64",
    # issue 10: one per class (paths x features, sizes, step dtype, hooks, API)
    "ForeachFirstGroupHyperparameters": "groups",
    "FusedMissingGradAsZero": "missing-grads",
    "FusedClampsNonFinite": "non-finite",
    "ForeachDropsComplex": "complex",
    "ForeachSparseSquaresDuplicates": "sparse",
    "ForeachLrReadOnce": "lr-schedule",
    "FusedTensorLrAsFloat32": "tensor-lr",
    "FusedBlocksDropTail": "shapes",
    "StepInParamDtype": "numerics-bfloat16",
    "FusedIgnoresMaximize": "hyperparameters",
    "ForeachMissingGradAdvancesStep": "missing-grads",
    "ForeachReplacesStorage": "layouts",
    "ForeachDifferentiableWithoutGrad": "differentiable",
    "FusedMutatesGradient": "grad-readonly",
    "AddedGroupInheritsStep": "groups",
    "StateDictPostHookReturnIgnored": "hooks",
    "LoadPreHookReturnIgnored": "hooks",
    "PrependIgnored": "hooks",
    "ZeroGradMissesAddedGroups": "zero-grad",
    "StateDictDropsMaximize": "state-dict",
    "ResumeResetsStep": "state-dict",
    "AcceptsNanEps": "validation",
    # issue 12: a mutant only a sharded run exposes
    "NarrowsLargeTensors": "distributed",
}

#: Features the _Update-based members do not claim (they have the dense real for-loop path only).
DENSE_ONLY_EXCLUDES = ["foreach", "fused", "sparse", "complex", "differentiable"]

VARIANTS: dict[str, list[str]] = {
    "Float64Inside": DENSE_ONLY_EXCLUDES,
    "OtherRoundingOrder": DENSE_ONLY_EXCLUDES,
    # torch_foreach is not here: it is torch's foreach path under another name, with torch's own
    # divergences (D1, D3, D5), which the packaged entries accept for torch.optim:Adagrad only.
    "OtherAssociationOrder": DENSE_ONLY_EXCLUDES,
    "Float64Foreach": [],
}


def excludes(name: str) -> list[str]:
    """Features a zoo member does not claim (passed to ``check --exclude``)."""
    if name in VARIANTS:
        return VARIANTS[name]
    cls = globals()[name]
    return DENSE_ONLY_EXCLUDES if isinstance(cls, type) and issubclass(cls, _Update) else []
