"""The Triton kernel on CPU tensors through Triton's interpreter (``TRITON_INTERPRET=1``).

The interpreter is slow: tensors are small and launches few. Each test checks one launch that
serves several tensors (several blocks each, mixed layouts) against torch's for-loop.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

pytest.importorskip("triton")

from adagrad.impl import targets  # noqa: E402
from adagrad.impl import triton_kernel  # noqa: E402

from impl_helpers import make_layout, run_trajectory, ulp_distance, ulps_of_scale  # noqa: E402

# Distances are in ulps of the parameter's scale (see ulps_of_scale): FMA for g*g and weight
# decay and a correctly rounded sqrt/division against torch's 1-ulp sqrt and separately rounded
# ops cost about one ulp of the terms per step; two steps, 4 ulps leaves room. A wrong formula
# is off by millions.
ULPS = 4
CASES: list[tuple[str, dict[str, Any]]] = [
    ("defaults", {}),
    ("everything_on", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1, eps=1e-8, maximize=True)),
    ("tensor_lr", dict(lr=torch.tensor(0.05))),
]  # fmt: skip


def _scale(before: torch.Tensor, after: torch.Tensor, lr: float) -> torch.Tensor:
    """The largest term an element's trajectory adds: its values, or one step's change.

    One step changes θ by at most lr (|g| <= sqrt(s) since s holds g² plus τ >= 0); steps of
    opposite signs may cancel, so the net change is no measure.
    """
    return torch.maximum(torch.maximum(before.abs(), after.abs()), torch.full_like(before, lr))


@pytest.fixture
def interpret(monkeypatch: Any) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")


def _mixed_problem(dtype: torch.dtype, steps: int = 2) -> tuple[list, list]:
    """Four tensors: one spanning 3 blocks, a transposed one, a sliced one, a 0-dim one."""
    gen = torch.Generator().manual_seed(3)
    n = 2 * triton_kernel.BLOCK_SIZE + 17
    shapes_layouts = [((1, n), "contiguous", "contiguous"), ((9, 13), "transposed", "sliced"),
                      ((5, 6), "sliced", "expanded"), ((), None, None)]  # fmt: skip
    params, grads = [], [[] for _ in range(steps)]
    for shape, p_layout, g_layout in shapes_layouts:
        p = torch.randn(shape, generator=gen, dtype=dtype)
        params.append(make_layout(p, p_layout) if p_layout else p)
        for k in range(steps):
            g = torch.randn(shape, generator=gen, dtype=dtype)
            grads[k].append(make_layout(g, g_layout) if g_layout else g)
    return params, grads


@pytest.mark.parametrize("hyper", [h for _, h in CASES], ids=[n for n, _ in CASES])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_one_launch_many_tensors(interpret: None, hyper: Any, dtype: Any, monkeypatch: Any) -> None:
    launches = []
    real_launch = triton_kernel._launch
    monkeypatch.setattr(triton_kernel, "_launch", lambda *a, **k: launches.append(1) or real_launch(*a, **k))
    params, grads = _mixed_problem(dtype)
    ours, opt = run_trajectory(targets.fused, params, grads, **hyper)
    # The kernel divides lr by (1 + (t-1) lr_decay) in float64; torch's for-loop divides a
    # tensor lr in its own dtype. Give the reference lr's value so both use the same clr.
    ref_hyper = {**hyper, "lr": float(hyper.get("lr", 1e-2))}
    theirs, _ = run_trajectory(torch.optim.Adagrad, params, grads, foreach=False, **ref_hyper)
    assert opt.fused_backend == "triton"
    assert launches == [1, 1]  # one launch per step for all four tensors
    for p0, a, b in zip(params, ours, theirs):
        assert a.stride() == b.stride()
        assert ulps_of_scale(a, b, _scale(p0, b, ref_hyper["lr"])) <= ULPS


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_half_rounded_once(interpret: None, dtype: Any) -> None:
    """One step equals the float32 step rounded once, within 1 ulp (see test_impl_numerics)."""
    params, grads = _mixed_problem(dtype, steps=1)
    hyper = dict(lr=0.1, weight_decay=0.1)
    ours, _ = run_trajectory(targets.fused, params, grads, **hyper)
    wide, _ = run_trajectory(torch.optim.Adagrad, [p.float() for p in params],
                             [[g.float() for g in grads[0]]], foreach=False, **hyper)  # fmt: skip
    for a, b in zip(ours, wide):
        assert ulp_distance(a, b.to(dtype)) <= 1


def test_many_dims_fall_back_to_copies(interpret: None) -> None:
    """A layout with more than MAX_DIMS dimensions left after collapsing still updates right."""
    gen = torch.Generator().manual_seed(4)
    base = torch.randn(2, 3, 2, 3, 2, 3, generator=gen)
    p = base.permute(5, 4, 3, 2, 1, 0)  # nothing collapses: six dimensions
    grads = [[torch.randn(p.shape, generator=gen)]]
    ours, _ = run_trajectory(targets.fused, [p], grads, lr=0.1)
    theirs, _ = run_trajectory(torch.optim.Adagrad, [p], grads, foreach=False, lr=0.1)
    assert ulps_of_scale(ours[0], theirs[0], _scale(p, theirs[0], 0.1)) <= ULPS


@pytest.mark.parametrize("inf", [0.0, 1.0], ids=["finite", "found_inf"])
def test_grad_scaler_protocol(interpret: None, inf: float) -> None:
    """grad_scale unscales grads in place; found_inf skips the update and the step count."""
    gen = torch.Generator().manual_seed(5)
    p = torch.randn(50, generator=gen).requires_grad_()
    g = torch.randn(50, generator=gen)
    p0 = p.detach().clone()
    opt = targets.fused([p], lr=0.1)
    p.grad = g * 4
    opt.grad_scale, opt.found_inf = torch.tensor(4.0), torch.tensor(inf)
    opt.step()
    if inf:
        assert torch.equal(p.detach(), p0) and torch.equal(p.grad, g * 4)
        assert opt.state[p]["step"].item() == 0
    else:
        assert torch.equal(p.grad, g)  # 4 is a power of two: the unscaling is exact
        ref, _ = run_trajectory(torch.optim.Adagrad, [p0], [[g]], foreach=False, lr=0.1)
        assert ulps_of_scale(p.detach(), ref[0], _scale(p0, ref[0], 0.1)) <= ULPS
        assert opt.state[p]["step"].item() == 1
