"""Working copies: where a path computes on copies of the caller's tensors, and how results go back.

Two reasons to compute on copies, one helper for both (:meth:`WorkingCopies.make`):

- float16/bfloat16 tensors are computed in float32 and each result is rounded once when it is
  written back (every path; float16 cannot even hold the default ``eps=1e-10``: divergence D3);
- torch's fused CPU kernel walks raw memory as if every tensor were contiguous, and the Triton
  kernel serves at most :data:`~adagrad.impl.triton_tables.MAX_DIMS` collapsed dimensions: both
  get contiguous copies of what they cannot walk.

After a fused kernel, :func:`finish_fused` is the one epilogue: the copies are written back (the
gradients too when the kernel unscaled them) and, when GradScaler's ``found_inf`` is non-zero,
the step counters the kernel advanced are put back.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .common import copy_all

__all__ = ["HALF_DTYPES", "NO_COPIES", "WorkingCopies", "compute_dtype", "finish_fused", "upcast"]

#: Dtypes whose arithmetic runs in float32, each result rounded back once.
HALF_DTYPES = (torch.float16, torch.bfloat16)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype a path computes in for tensors of ``dtype``: float32 for the half dtypes."""
    return torch.float32 if dtype in HALF_DTYPES else dtype


@dataclass(frozen=True)
class WorkingCopies:
    """(param, grad, sum) triples and the copies a path computes on in their place."""

    params: list[Tensor]
    grads: list[Tensor]
    sums: list[Tensor]
    work_params: list[Tensor]
    work_grads: list[Tensor]
    work_sums: list[Tensor]

    @classmethod
    def make(
        cls, params: list[Tensor], grads: list[Tensor], sums: list[Tensor], *, dtype: torch.dtype, contiguous: bool
    ) -> WorkingCopies:
        """Copies of every param, grad and sum in ``dtype``: contiguous ones, or (without
        ``contiguous``) each with its own tensor's layout."""
        memory_format = torch.contiguous_format if contiguous else torch.preserve_format

        def copies(tensors: list[Tensor]) -> list[Tensor]:
            return [t.to(dtype, memory_format=memory_format, copy=True) for t in tensors]

        return cls(params, grads, sums, copies(params), copies(grads), copies(sums))

    def write_back(self, *, grads: bool = False) -> None:
        """Copies the results into the caller's params and sums (rounded once to their dtype),
        and into the grads when a kernel changed them (unscaled by ``grad_scale``)."""
        copy_all(self.params, self.work_params)
        copy_all(self.sums, self.work_sums)
        if grads:
            copy_all(self.grads, self.work_grads)

    def swapped_in(
        self, params: list[Tensor], grads: list[Tensor], sums: list[Tensor], indices: list[int]
    ) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """New lists in which the triples at ``indices`` (the ones copied, in order) are the copies."""
        params, grads, sums = list(params), list(grads), list(sums)
        for k, i in enumerate(indices):
            params[i], grads[i], sums[i] = self.work_params[k], self.work_grads[k], self.work_sums[k]
        return params, grads, sums


#: Nothing copied.
NO_COPIES = WorkingCopies([], [], [], [], [], [])


def upcast(params: list[Tensor], grads: list[Tensor], sums: list[Tensor]) -> WorkingCopies:
    """float32 copies of half-precision triples, each keeping its tensor's layout (so every
    element sees the ops it would see in place)."""
    return WorkingCopies.make(params, grads, sums, dtype=torch.float32, contiguous=False)


def finish_fused(
    copies: WorkingCopies, state_steps: list[Tensor], *, grad_scale: Tensor | None, found_inf: Tensor | None
) -> None:
    """The end of a fused step for one (device, dtype) group, after its kernel ran and advanced
    ``state_steps``: the copies are written back, and ``found_inf`` (GradScaler's 1 when it saw an
    inf or NaN, when the kernel changed nothing, else 0) is subtracted from the steps, so that a
    skipped step does not count either."""
    copies.write_back(grads=grad_scale is not None)
    if found_inf is not None and state_steps:
        first = state_steps[0]
        torch._foreach_sub_(state_steps, [found_inf.to(first.device, first.dtype)] * len(state_steps))
