"""The one signature every update path implements: :class:`UpdatePath`.

The four paths (:func:`~adagrad.impl.for_loop.for_loop_adagrad`,
:func:`~adagrad.impl.foreach.foreach_adagrad`, :func:`~adagrad.impl.fused_cpu.fused_cpu_adagrad`,
:func:`~adagrad.impl.triton_kernel.fused_triton_adagrad`) are interchangeable behind
:func:`adagrad.impl.functional.adagrad`, which picks one and calls it with these arguments.
``tests/impl/test_impl_paths.py`` checks that every path's signature is this one, parameter for
parameter (names, kinds, annotations, no defaults). The names are those of torch's own paths
(``torch.optim.adagrad._single_tensor_adagrad`` and its siblings); here everything after the four
tensor lists is keyword-only, ``grad_scale`` and ``found_inf`` included.
"""

from __future__ import annotations

from typing import Protocol

from torch import Tensor

__all__ = ["UpdatePath"]


class UpdatePath(Protocol):
    """One Adagrad step over parallel lists of tensors, in place."""

    def __call__(
        self,
        params: list[Tensor],
        grads: list[Tensor],
        state_sums: list[Tensor],
        state_steps: list[Tensor],
        *,
        lr: float | Tensor,
        weight_decay: float,
        lr_decay: float,
        eps: float,
        maximize: bool,
        differentiable: bool,
        has_sparse_grad: bool,
        has_complex: bool,
        grad_scale: Tensor | None,
        found_inf: Tensor | None,
    ) -> None:
        """Applies one step (spec R1).

        Args:
            params: parameters, updated in place.
            grads: their gradients; a path changes them only to unscale them by ``grad_scale``.
            state_sums: accumulators shaped like the parameters, updated in place.
            state_steps: 0-dim step counters, incremented in place.
            lr, weight_decay, lr_decay, eps, maximize: hyperparameters (spec R1-R8).
            differentiable: record the step on the autograd tape (the for-loop path only).
            has_sparse_grad, has_complex: whether any gradient is sparse / parameter is complex,
                computed by the caller while gathering the tensors (paths trust them, as torch's do).
            grad_scale, found_inf: GradScaler's tensors (the fused paths only).
        """
        ...
