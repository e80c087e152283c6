"""The oracle: Adagrad as ``docs/spec.md`` defines it, in NumPy float64 (never imports torch).

- :mod:`.functional`: pure step functions (dense, sparse, complex).
- :mod:`.optimizer`: :class:`ReferenceAdagrad`, the whole optimizer (groups, state, API).
- :mod:`.validation`: constructor checks with torch's messages.
"""

from .functional import SPARSE_WEIGHT_DECAY_ERROR, SparseGrad, adagrad_step, decayed_lr, densify, sparse_adagrad_step
from .optimizer import Param, ReferenceAdagrad
from .validation import HYPERPARAMETERS, validate_hyperparameters

#: Version of the spec (docs/spec.md) this oracle implements.
SPEC_VERSION = "1.0"

__all__ = [
    "HYPERPARAMETERS",
    "SPARSE_WEIGHT_DECAY_ERROR",
    "SPEC_VERSION",
    "Param",
    "ReferenceAdagrad",
    "SparseGrad",
    "adagrad_step",
    "decayed_lr",
    "densify",
    "sparse_adagrad_step",
    "validate_hyperparameters",
]
