"""Factories that force one path of :class:`~adagrad.impl.Adagrad`, for the conformance suite.

Each is ``factory(params, **hyperparameters) -> optimizer`` and is named on the command line as
``adagrad.impl.targets:for_loop``, ``adagrad.impl.targets:foreach`` or
``adagrad.impl.targets:fused``. A factory overrides only the ``foreach``/``fused`` choice; every
other hyperparameter (including ``differentiable``) is passed through, so a request the path
cannot serve fails with torch's error, as ``torch.optim.Adagrad`` with that path would.

What each forced path cannot serve (exclude these features when checking it):

- ``for_loop``: everything is served (dense, sparse, complex, differentiable, tensor lr).
  ``GradScaler``'s ``grad_scale``/``found_inf`` are a fused-only protocol (as in torch).
- ``foreach``: ``differentiable=True`` (``RuntimeError``, as torch's foreach); groups holding a
  sparse gradient fall back to the for-loop, as in torch.
- ``fused``: sparse gradients (``RuntimeError: `fused` does not support sparse grad or complex
  param``), complex parameters (torch's ``RuntimeError: `fused=True` requires all the params to
  be floating point Tensors ...``), ``differentiable=True`` (``RuntimeError: `fused` does not
  support `differentiable```). With ``TRITON_INTERPRET=1`` set (before the first step) and
  triton installed, the Triton kernel runs even on CPU tensors (slowly: keep tensors small);
  otherwise CPU tensors use torch's fused CPU kernel and CUDA tensors the Triton kernel.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import Tensor

from .optimizer import Adagrad
from .triton_kernel import interpreter_enabled, triton_available

__all__ = ["for_loop", "foreach", "fused"]

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


def for_loop(params: Params, **hyperparameters: Any) -> Adagrad:
    """An :class:`Adagrad` whose every group uses the for-loop path."""
    hyperparameters.update(foreach=False, fused=False)
    return Adagrad(params, **hyperparameters)


def foreach(params: Params, **hyperparameters: Any) -> Adagrad:
    """An :class:`Adagrad` whose every group uses the foreach path."""
    hyperparameters.update(foreach=True, fused=False)
    return Adagrad(params, **hyperparameters)


def fused(params: Params, **hyperparameters: Any) -> Adagrad:
    """An :class:`Adagrad` whose every group uses the fused path (Triton when interpreting)."""
    hyperparameters.update(foreach=False, fused=True)
    opt = Adagrad(params, **hyperparameters)
    if interpreter_enabled() and triton_available():
        opt.fused_backend = "triton"
    return opt
