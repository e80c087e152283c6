"""Helpers for the tests of ``adagrad.impl``: trajectories, layouts and ulp distances."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

Factory = Callable[..., torch.optim.Optimizer]

_INT_VIEW = {
    torch.float64: torch.int64,
    torch.float32: torch.int32,
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
}


def ulp_distance(a: torch.Tensor, b: torch.Tensor) -> int:
    """Largest number of representable values between matching elements of a and b.

    NaNs must match position for position (they count as 0 apart); ±0 are 0 apart.
    """
    assert a.dtype == b.dtype and a.shape == b.shape
    nan_a, nan_b = torch.isnan(a), torch.isnan(b)
    assert torch.equal(nan_a, nan_b), "NaNs differ"
    ints = []
    for x in (a, b):
        x = torch.where(nan_a, torch.zeros_like(x), x).contiguous()
        i = x.view(_INT_VIEW[x.dtype]).to(torch.int64)
        magnitude = (1 << (8 * x.element_size() - 1)) - 1
        # Sign-magnitude bit patterns onto a line where neighbouring floats differ by one.
        ints.append(torch.where(i < 0, -(i & magnitude), i))
    return int((ints[0] - ints[1]).abs().max()) if a.numel() else 0


def make_layout(values: torch.Tensor, layout: str) -> torch.Tensor:
    """Returns a tensor equal to ``values`` (2-D, on its device) with the named memory layout."""
    if layout == "contiguous":
        return values.clone()
    if layout == "transposed":
        return values.t().contiguous().t()
    if layout == "sliced":
        big = torch.zeros(values.shape[0], values.shape[1] * 2, dtype=values.dtype, device=values.device)
        big[:, ::2] = values
        return big[:, ::2]
    if layout == "expanded":  # grads only: one row broadcast to every row
        return values[:1].expand_as(values)
    raise ValueError(layout)


def run_trajectory(
    factory: Factory,
    params: Sequence[torch.Tensor],
    grads: Sequence[Sequence[torch.Tensor]],
    **hyperparameters: Any,
) -> tuple[list[torch.Tensor], torch.optim.Optimizer]:
    """Steps a fresh optimizer over ``grads[k][i]`` for parameter i at step k.

    The parameters are cloned (their layout kept), so the caller's tensors stay untouched.
    Returns the final parameters and the optimizer.
    """
    work = [clone_keep_layout(p).requires_grad_() for p in params]
    opt = factory(work, **hyperparameters)
    for step_grads in grads:
        for p, g in zip(work, step_grads):
            p.grad = g
        opt.step()
    return [p.detach() for p in work], opt


def clone_keep_layout(p: torch.Tensor) -> torch.Tensor:
    """A copy with p's strides and offset in a fresh storage on p's device (a sliced layout stays sliced)."""
    storage = torch.zeros(p.untyped_storage().nbytes() // p.element_size(), dtype=p.dtype, device=p.device)
    out = storage.as_strided(p.shape, p.stride(), p.storage_offset())
    out.copy_(p)
    return out


def ulps_of_scale(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> float:
    """Largest |a - b| in units of the spacing of floats at ``|scale|`` (same dtype as a).

    Plain ulp distance blows up where an update cancels a parameter to near zero; the error
    a correct kernel makes there is a few ulps of the terms that cancelled, which is this.
    """
    spacing = torch.nextafter(scale.abs(), torch.tensor(float("inf"), dtype=scale.dtype)) - scale.abs()
    diff = (a.double() - b.double()).abs() / spacing.double()
    return float(diff.max()) if a.numel() else 0.0
