"""``adagrad(...)``: the functional core, which picks one path and calls it.

Every path has the one signature :class:`~adagrad.impl.path.UpdatePath` (checked by
``tests/impl/test_impl_paths.py``):

- :func:`~adagrad.impl.for_loop.for_loop_adagrad`: one tensor at a time; sparse, complex and
  differentiable steps; bitwise equal to torch's for-loop on dense float32/float64;
- :func:`~adagrad.impl.foreach.foreach_adagrad`: multi-tensor ops in cache-sized batches;
- :func:`~adagrad.impl.fused_cpu.fused_cpu_adagrad`: torch's one-pass ``_fused_adagrad_``
  kernel (CPU, and the other non-CUDA devices torch has it for), fed only tensors it is correct
  for;
- :func:`~adagrad.impl.triton_kernel.fused_triton_adagrad`: one Triton launch per
  (device, dtype) group, for CUDA tensors (or CPU tensors under ``TRITON_INTERPRET=1``).

DTensors (FSDP2) are updated through their local shards on the foreach and fused paths (see
:func:`~adagrad.impl.common.local_shards`); the for-loop works on the DTensors themselves.
"""

from __future__ import annotations

from typing import Literal, get_args

from torch import Tensor

from .common import foreach_devices, local_shards
from .for_loop import for_loop_adagrad
from .foreach import foreach_adagrad
from .fused_cpu import fused_cpu_adagrad
from .path import UpdatePath
from .triton_kernel import fused_triton_adagrad

__all__ = ["FUSED_BACKENDS", "FusedBackend", "adagrad", "check_fused_backend"]

#: Which kernel serves ``fused=True``: ``"auto"`` (Triton on CUDA, torch's ``_fused_adagrad_``
#: kernel on every other device), ``"triton"`` (Triton everywhere; CPU tensors need
#: ``TRITON_INTERPRET=1``) or ``"cpu"`` (torch's kernel everywhere; the name is historical).
FusedBackend = Literal["auto", "triton", "cpu"]

#: The values :data:`FusedBackend` allows.
FUSED_BACKENDS: tuple[str, ...] = get_args(FusedBackend)


def check_fused_backend(backend: object) -> FusedBackend:
    """Returns ``backend`` if it names a fused kernel choice, else raises ValueError naming it."""
    if not isinstance(backend, str) or backend not in FUSED_BACKENDS:
        raise ValueError(f"fused_backend must be one of {list(FUSED_BACKENDS)}, got {backend!r}")
    return backend  # type: ignore[return-value]


def adagrad(
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
    foreach: bool | None = None,
    fused: bool | None = None,
    differentiable: bool = False,
    has_sparse_grad: bool = False,
    has_complex: bool = False,
    grad_scale: Tensor | None = None,
    found_inf: Tensor | None = None,
    fused_backend: FusedBackend = "auto",
) -> None:
    r"""Applies one Adagrad step to parallel lists of tensors, in place.

    For each parameter θ with gradient g, accumulator s and step count t (spec R1):

    .. math::
        t \leftarrow t + 1,\quad
        \tilde\gamma = \gamma / (1 + (t - 1)\eta),\quad
        g \leftarrow \pm g + \lambda\theta,\quad
        s \leftarrow s + g^2,\quad
        \theta \leftarrow \theta - \tilde\gamma\, g / (\sqrt{s} + \epsilon)

    Args:
        params: parameters, updated in place.
        grads: their gradients (dense, or sparse COO on the for-loop/foreach paths).
        state_sums: accumulators shaped like the parameters, updated in place.
        state_steps: 0-dim step counters, incremented in place.
        lr: learning rate γ (float or 1-element tensor).
        weight_decay: λ. lr_decay: η. eps: ε. maximize: flip the gradient's sign first.
        foreach: use the foreach path (default: on when every parameter is on a device in
            torch's foreach list, :func:`~adagrad.impl.common.foreach_devices`: CUDA and other
            accelerators, not CPU).
        fused: use the fused path; wins over ``foreach`` when both are set by a caller that
            skipped the optimizer's validation.
        differentiable: record the step on the autograd tape (for-loop path only).
        has_sparse_grad, has_complex: whether any gradient is sparse / parameter is complex.
        grad_scale, found_inf: GradScaler's tensors (fused path only): gradients are divided
            by ``grad_scale`` in place, and nothing changes when ``found_inf`` is non-zero.
        fused_backend: which fused kernel to use (:data:`FusedBackend`).

    Raises:
        RuntimeError: with torch's messages, for what the chosen path cannot serve; for
            ``fused=True`` on a DTensor whose gradient or accumulator is laid out differently
            (no shard-by-shard update is exact there) or on a torch without the fused kernel.
        ValueError: an unknown ``fused_backend``.

    Example:
        >>> import torch
        >>> p, g = torch.tensor([1.0, -1.0]), torch.tensor([2.0, -2.0])
        >>> s, t = torch.zeros(2), torch.tensor(0.0, dtype=torch.float64)
        >>> adagrad([p], [g], [s], [t], lr=0.5, weight_decay=0.0, lr_decay=0.0, eps=0.0,
        ...         maximize=False)
        >>> p.tolist(), s.tolist(), t.item()
        ([0.5, -0.5], [4.0, 4.0], 1.0)
    """
    check_fused_backend(fused_backend)
    if foreach is None and fused is None:
        # torch's default: foreach where it pays (accelerators), the for-loop elsewhere.
        devices = foreach_devices()
        foreach = not differentiable and bool(params) and all(p.device.type in devices for p in params)
    paths: list[tuple[UpdatePath, list[int]]]
    if fused:
        # The fused precondition (no sparse, complex or differentiable) is each fused path's own
        # first check; the shards are mapped here, for the whole group, before any path runs.
        params, grads, state_sums, others = local_shards(params, grads, state_sums)
        if others:
            raise RuntimeError(
                f"fused=True cannot update DTensor parameter {others[0]} shard by shard: its "
                "gradient or accumulator has a different mesh, placement or shape, or a pending "
                "(Partial) reduction; use foreach=True or the for-loop path for it"
            )
        on_cuda = [p.device.type == "cuda" for p in params]
        if fused_backend == "triton" or (fused_backend == "auto" and all(on_cuda)):
            paths = [(fused_triton_adagrad, list(range(len(params))))]
        elif fused_backend == "cpu" or not any(on_cuda):
            paths = [(fused_cpu_adagrad, list(range(len(params))))]
        else:  # a group that spans CUDA and other devices
            cuda_idx = [i for i, c in enumerate(on_cuda) if c]
            other_idx = [i for i, c in enumerate(on_cuda) if not c]
            paths = [(fused_cpu_adagrad, other_idx), (fused_triton_adagrad, cuda_idx)]
    elif foreach:
        paths = [(foreach_adagrad, list(range(len(params))))]
    else:
        paths = [(for_loop_adagrad, list(range(len(params))))]
    whole = len(paths) == 1
    for func, idx in paths:
        func(
            params if whole else [params[i] for i in idx],
            grads if whole else [grads[i] for i in idx],
            state_sums if whole else [state_sums[i] for i in idx],
            state_steps if whole else [state_steps[i] for i in idx],
            lr=lr, weight_decay=weight_decay, lr_decay=lr_decay, eps=eps, maximize=maximize,
            differentiable=differentiable, has_sparse_grad=has_sparse_grad,
            has_complex=has_complex, grad_scale=grad_scale, found_inf=found_inf,
        )  # fmt: skip
