"""A case's values and hyperparameters as torch objects, the way a user writes them (hyperparameters at their default left out)."""

from __future__ import annotations

from typing import Any

import numpy as np

from adagrad.conformance.engine.case import Case
from adagrad.conformance.engine.comparison import HYPER_DEFAULTS
from adagrad.conformance.engine.tensor_bits import decode_bits, tensor_bits, tensor_from_values
from adagrad.reference import SparseGrad

#: A gradient of a case: a NumPy array, a ``SparseGrad`` or None.
Grad = Any


def to_torch(x: np.ndarray, dtype: str, device: str = "cpu"):
    """A torch tensor of ``dtype`` holding ``x`` (float64/complex128 values, exact in ``dtype``),
    built from bit patterns with no floating-point arithmetic."""
    t = tensor_from_values(np.asarray(x), dtype)
    return t if device == "cpu" else t.to(device)


def to_numpy(t) -> np.ndarray:
    """A float64 (complex128) NumPy copy of a tensor, read bit-exactly (any dtype, device, layout)."""
    dtype, bits = tensor_bits(t)
    v = decode_bits(bits, dtype)
    return v[..., 0] + 1j * v[..., 1] if t.is_complex() else v


def torch_grad(g: Grad, case: Case):
    import torch

    if g is None:
        return None
    if isinstance(g, SparseGrad):
        return torch.sparse_coo_tensor(
            torch.as_tensor(np.asarray(g.indices), dtype=torch.int64), to_torch(g.values, case.dtype), g.shape
        ).to(case.device)
    return to_torch(g, case.dtype, case.device)


def lr_value(case: Case, lr: Any) -> Any:
    if case.lr_tensor_dtype is None:
        return lr
    import torch

    # rounded to the lr tensor's dtype as a user's torch.tensor(lr, dtype=...) rounds it
    return torch.tensor(float(lr), dtype=getattr(torch, case.lr_tensor_dtype), device=case.device)


def given_hyper(case: Case, hyper: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters a user would write: those at torch's default are left out (so that a
    target without, say, ``lr_decay`` can run every case that does not need it), unless the
    constructor sets that key otherwise (then the group must say it)."""
    out = {}
    for k, v in hyper.items():
        if k in HYPER_DEFAULTS and k not in case.options and _same(v, HYPER_DEFAULTS[k]):
            continue
        out[k] = lr_value(case, v) if k == "lr" else v
    return out


def is_default(case: Case, key: str, value: Any) -> bool:
    """Left out of the call, as :func:`given_hyper` leaves it out (snippets call the target the same way)."""
    return key in HYPER_DEFAULTS and key not in case.options and _same(value, HYPER_DEFAULTS[key])


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b or (isinstance(a, float) and isinstance(b, float) and a == b)


def step_value(step: Any) -> Any:
    """A step count as the target holds it: a tensor's bits (its dtype is part of the answer)."""
    import torch

    if isinstance(step, torch.Tensor):
        if step.is_floating_point():
            return tensor_bits(step)
        return int(step.item())
    return step if isinstance(step, (int, float)) else None
