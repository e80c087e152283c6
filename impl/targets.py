"""Factories that force one path of :class:`~adagrad.impl.Adagrad`, for the conformance suite.

Each is ``factory(params, **hyperparameters) -> optimizer`` and is named on the command line as
``adagrad.impl.targets:for_loop``, ``adagrad.impl.targets:foreach`` or
``adagrad.impl.targets:fused``. A factory turns the path's own flag on and the other path's flag off
unless the request explicitly sets that other flag to True: such a request (``fused=True`` with
``foreach=True`` or with ``differentiable=True``, or a test that asks for the fused path by name)
goes to the constructor unchanged and gets torch's behaviour and errors. Every other
hyperparameter (including ``differentiable``) is passed through, so a request the path cannot
serve fails with torch's error, as ``torch.optim.Adagrad`` with that path would.

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


def _force(hyperparameters: dict[str, Any], on: str | None, off: tuple[str, ...]) -> dict[str, Any]:
    """Sets ``on`` to True and each of ``off`` to False, unless a request set it to True."""
    out = dict(hyperparameters)
    for key in off:
        if out.get(key) is not True:
            out[key] = False
    if on is not None:
        out[on] = True
    return out


def for_loop(params: Params, **hyperparameters: Any) -> Adagrad:
    """An :class:`Adagrad` whose every group uses the for-loop path."""
    return Adagrad(params, **_force(hyperparameters, None, ("foreach", "fused")))


def foreach(params: Params, **hyperparameters: Any) -> Adagrad:
    """An :class:`Adagrad` whose every group uses the foreach path."""
    return Adagrad(params, **_force(hyperparameters, "foreach", ("fused",)))


def fused(params: Params, **hyperparameters: Any) -> Adagrad:
    """An :class:`Adagrad` whose every group uses the fused path (Triton when interpreting)."""
    opt = Adagrad(params, **_force(hyperparameters, "fused", ("foreach",)))
    if interpreter_enabled() and triton_available():
        opt.fused_backend = "triton"
    return opt
