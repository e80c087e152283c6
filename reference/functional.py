"""Pure Adagrad step functions over NumPy arrays, in exact float64 arithmetic.

The update rule (spec R1-R7), for one parameter at step ``t`` (``t`` starts at 1)::

    clr = lr / (1 + (t - 1) * lr_decay)          # R3
    g   = -g                 if maximize         # R4
    g   = g + weight_decay * p  if weight_decay != 0   # R5
    s   = s + g * g                              # R1, s starts at tau (R6)
    p   = p - clr * g / (sqrt(s) + eps)          # R7

Every function here is pure: inputs are never mutated, results are new arrays. Real inputs of
any float dtype are computed in float64, complex ones in complex128 (R11).

Example:
    >>> import numpy as np
    >>> p, s, t = adagrad_step(np.array([1.0]), np.array([2.0]), np.array([0.0]), 0, lr=0.5, eps=0.0)
    >>> float(p[0]), float(s[0]), t
    (0.5, 4.0, 1)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "SPARSE_WEIGHT_DECAY_ERROR",
    "SparseGrad",
    "adagrad_step",
    "decayed_lr",
    "densify",
    "sparse_adagrad_step",
]

SPARSE_WEIGHT_DECAY_ERROR = "weight_decay option is not compatible with sparse gradients"


@dataclass(frozen=True)
class SparseGrad:
    """A COO sparse gradient: ``indices`` (sparse_dims x nnz ints), ``values`` (nnz x dense dims).

    Indices may repeat (an uncoalesced gradient); repeated entries are summed (spec R9).
    """

    indices: np.ndarray
    values: np.ndarray
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        idx = np.asarray(self.indices)
        if idx.ndim != 2:
            raise ValueError(f"SparseGrad indices must be 2-D (sparse_dims x nnz), got ndim={idx.ndim}")
        vals = np.asarray(self.values)
        sparse_dims, nnz = idx.shape
        if vals.shape[:1] != (nnz,) or vals.shape[1:] != tuple(self.shape[sparse_dims:]):
            raise ValueError(
                f"SparseGrad values of shape {vals.shape} do not fit {nnz} indices into shape {self.shape}"
            )
        if nnz and ((idx < 0).any() or (idx >= np.array(self.shape[:sparse_dims])[:, None]).any()):
            raise ValueError(f"SparseGrad indices out of range for shape {self.shape}")


def _as_compute(x: np.ndarray) -> np.ndarray:
    """Copy ``x`` to the oracle's compute dtype: complex128 for complex, float64 otherwise."""
    x = np.asarray(x)
    return x.astype(np.complex128 if np.iscomplexobj(x) else np.float64, copy=True)


def _real_pairs(x: np.ndarray) -> np.ndarray:
    """View a complex array as (..., 2) real pairs (torch.view_as_real), as a new float64 array."""
    return np.stack([x.real, x.imag], axis=-1).astype(np.float64)


def _from_pairs(x: np.ndarray) -> np.ndarray:
    return x[..., 0] + 1j * x[..., 1]


def decayed_lr(lr: float, lr_decay: float, step: int) -> float:
    """The learning rate used at step ``step`` (1-based): ``lr / (1 + (step - 1) * lr_decay)`` (R3)."""
    return float(lr) / (1.0 + (step - 1) * float(lr_decay))


def densify(grad: SparseGrad) -> np.ndarray:
    """The dense float64/complex128 array equal to a sparse gradient, duplicates summed."""
    values = _as_compute(grad.values)
    dense = np.zeros(grad.shape, dtype=values.dtype)
    np.add.at(dense, tuple(np.asarray(grad.indices)), values)
    return dense


def adagrad_step(
    param: np.ndarray,
    grad: np.ndarray,
    state_sum: np.ndarray,
    step: int,
    *,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> tuple[np.ndarray, np.ndarray, int]:
    """One dense Adagrad step; returns ``(new_param, new_sum, new_step)``.

    ``step`` is the number of steps taken so far (0 before the first). Complex parameters are
    updated as real pairs with separate real and imaginary accumulators (R11); their sum is
    a complex array whose real and imaginary parts are those accumulators.
    """
    p, g, s = _as_compute(param), _as_compute(grad), _as_compute(state_sum)
    if p.shape != g.shape or p.shape != s.shape:
        raise ValueError(f"shape mismatch: param {p.shape}, grad {g.shape}, sum {s.shape}")
    t = int(step) + 1
    clr = decayed_lr(lr, lr_decay, t)
    is_complex = np.iscomplexobj(p)
    if is_complex:
        p, g, s = _real_pairs(p), _real_pairs(g.astype(np.complex128)), _real_pairs(s.astype(np.complex128))
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    with np.errstate(all="ignore"):  # IEEE propagation of inf/NaN is the specified behaviour (R25)
        s = s + g * g
        p = p - clr * g / (np.sqrt(s) + eps)
    if is_complex:
        p, s = _from_pairs(p), _from_pairs(s)
    return p, s, t


def sparse_adagrad_step(
    param: np.ndarray,
    grad: SparseGrad,
    state_sum: np.ndarray,
    step: int,
    *,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
    maximize: bool = False,
) -> tuple[np.ndarray, np.ndarray, int]:
    """One Adagrad step with a sparse gradient (R9): only rows named in ``grad.indices`` change.

    Duplicate indices are summed before squaring. ``weight_decay != 0`` raises ``RuntimeError``
    with torch's message (R10).
    """
    if weight_decay != 0:
        raise RuntimeError(SPARSE_WEIGHT_DECAY_ERROR)
    p, s = _as_compute(param), _as_compute(state_sum)
    if np.iscomplexobj(p) or np.iscomplexobj(grad.values):
        raise ValueError("sparse gradients of complex parameters are outside the spec (R9)")
    if tuple(grad.shape) != p.shape or s.shape != p.shape:
        raise ValueError(f"shape mismatch: param {p.shape}, grad {tuple(grad.shape)}, sum {s.shape}")
    dense = densify(grad)
    sparse_dims = np.asarray(grad.indices).shape[0]
    touched = np.zeros(p.shape[:sparse_dims], dtype=bool)
    touched[tuple(np.asarray(grad.indices))] = True
    t = int(step) + 1
    clr = decayed_lr(lr, lr_decay, t)
    g = -dense[touched] if maximize else dense[touched]
    with np.errstate(all="ignore"):
        s[touched] = s[touched] + g * g
        p[touched] = p[touched] - clr * g / (np.sqrt(s[touched]) + eps)
    return p, s, t
