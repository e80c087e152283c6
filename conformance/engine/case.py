"""The suite's data model: a :class:`Case` (inputs of one trajectory) and what a target returned.

Plain data, no torch: a case crosses into the oracle's process (:mod:`.codec`) and into reports.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adagrad.reference import SparseGrad

__all__ = ["Case", "Grad", "TargetStep", "Trajectory", "clone_case"]

Grad = np.ndarray | SparseGrad | None
#: A tensor as the target holds it: (dtype name, bit patterns); complex as real pairs.
Bits = tuple[str, np.ndarray]


@dataclass
class Case:
    """One trajectory. Values are float64 (complex128) arrays already representable in ``dtype``.

    Attributes:
        dtype: parameter dtype name (float64, float32, float16, bfloat16, complex64, complex128).
        params: initial parameter values.
        grads: ``grads[step][param]``; None means the parameter has no gradient that step.
        groups: param groups: hyperparameter dicts with ``"params"`` as indices into ``params``;
            a group with ``"added_at": k`` is added by ``add_param_group`` before step k.
            A hyperparameter absent from a group is left to the target's default.
        options: extra constructor keywords (``foreach``, ``fused``, ...).
        edits: ``{step: [(group, key, value)]}`` applied to ``param_groups`` before that step.
        start: teacher forcing: ``(sum, step)`` per parameter loaded before the first step.
        lr_tensor_dtype: pass each group's lr as a 1-element tensor of this dtype.
        device: torch device of the target's tensors (the oracle always runs in NumPy float64).
    """

    dtype: str
    params: list[np.ndarray]
    grads: list[list[Grad]]
    groups: list[dict[str, Any]]
    options: dict[str, Any] = field(default_factory=dict)
    edits: dict[int, list[tuple[int, str, Any]]] = field(default_factory=dict)
    start: list[tuple[np.ndarray, int]] | None = None
    lr_tensor_dtype: str | None = None
    device: str = "cpu"

    @property
    def real_dtype(self) -> str:
        return {"complex64": "float32", "complex128": "float64"}.get(self.dtype, self.dtype)

    def group_of(self, index: int) -> int:
        return next(g for g, group in enumerate(self.groups) if index in group["params"])

    @property
    def size(self) -> int:
        """Elements times steps: how large the case is (the smallest failing case is reported)."""
        return int(sum(np.size(p) for p in self.params)) * max(1, len(self.grads))


@dataclass
class TargetStep:
    """What the target held after one step, read bit-exactly (:mod:`.tensor_bits`).

    ``sums[i]``/``steps[i]`` are None for a parameter the target keeps no state for (yet);
    a step is a plain number or, when the target keeps it in a tensor, that tensor's bits.
    ``error`` is set when the target's state could not be read (the text says why);
    ``state_unread`` when the target declares no way to read it (only params are judged).
    """

    params: list[Bits]
    sums: list[Bits | None]
    steps: list[Any]
    error: str | None = None
    state_unread: bool = False


Trajectory = list[TargetStep]


def clone_case(case: Case, **changes: Any) -> Case:
    """A deep copy of ``case`` with some fields replaced."""
    new = copy.deepcopy(case)
    for k, v in changes.items():
        setattr(new, k, v)
    return new
