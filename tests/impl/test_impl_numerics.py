"""Each path of ``adagrad.impl.Adagrad`` against ``torch.optim.Adagrad``'s for-loop.

The for-loop and foreach paths use the for-loop's ops in the same order, so on dense
float32/float64 they must be bitwise equal to it, for any memory layout. The fused paths use
one kernel with fused multiply-adds and a correctly rounded sqrt (torch's CPU ``sqrt`` is within
1 ulp but not correctly rounded): they are compared in ulps.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from impl_helpers import make_layout, run_trajectory, ulp_distance

from adagrad.impl import targets

HYPERPARAMETERS: list[tuple[str, dict[str, Any]]] = [
    ("defaults", {}),
    ("everything_on", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1, eps=1e-8, maximize=True)),
    ("eps0_tau1", dict(lr=0.5, eps=0.0, initial_accumulator_value=1.0)),
    ("tensor_lr", dict(lr=torch.tensor(0.05), lr_decay=0.5)),
]  # fmt: skip
# (param layout, grad layout)
LAYOUTS = [
    ("contiguous", "contiguous"),
    ("transposed", "sliced"),
    ("sliced", "expanded"),
]
SHAPE = (7, 33)
STEPS = 3


def _torch_for_loop(params: Any, **hyper: Any) -> torch.optim.Optimizer:
    return torch.optim.Adagrad(params, foreach=False, **hyper)


def _problem(dtype: torch.dtype, layouts: tuple[str, str], seed: int = 0) -> tuple[list, list]:
    gen = torch.Generator().manual_seed(seed)
    p_layout, g_layout = layouts
    params = [make_layout(torch.randn(SHAPE, generator=gen, dtype=dtype), p_layout)]
    grads = [[make_layout(torch.randn(SHAPE, generator=gen, dtype=dtype), g_layout)] for _ in range(STEPS)]
    return params, grads


@pytest.mark.parametrize("factory", [targets.for_loop, targets.foreach], ids=["for_loop", "foreach"])
@pytest.mark.parametrize("layouts", LAYOUTS, ids=["-".join(x) for x in LAYOUTS])
@pytest.mark.parametrize("hyper", [h for _, h in HYPERPARAMETERS], ids=[n for n, _ in HYPERPARAMETERS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_bitwise_equal_to_torch_for_loop(factory: Any, layouts: Any, hyper: Any, dtype: Any) -> None:
    params, grads = _problem(dtype, layouts)
    ours, opt = run_trajectory(factory, params, grads, **hyper)
    theirs, ref = run_trajectory(_torch_for_loop, params, grads, **hyper)
    assert torch.equal(ours[0], theirs[0])
    assert torch.equal(opt.state_dict()["state"][0]["sum"], ref.state_dict()["state"][0]["sum"])
    assert opt.state_dict()["state"][0]["step"].item() == STEPS


def test_foreach_slices_large_tensors_bitwise() -> None:
    """A tensor above the batch size is cut into slices; the result must not change."""
    from adagrad.impl.foreach import BATCH_ELEMENTS

    gen = torch.Generator().manual_seed(1)
    n = 2 * BATCH_ELEMENTS + 1234
    params = [torch.randn(n, generator=gen), torch.randn(3, generator=gen)]
    grads = [[torch.randn(n, generator=gen), torch.randn(3, generator=gen)] for _ in range(2)]
    hyper = dict(lr=0.1, weight_decay=0.01, maximize=True)
    ours, _ = run_trajectory(targets.foreach, params, grads, **hyper)
    theirs, _ = run_trajectory(_torch_for_loop, params, grads, **hyper)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))


def _torch_fused_contiguous(params: Any, **hyper: Any) -> torch.optim.Optimizer:
    """torch's fused CPU kernel, given contiguous tensors (it misreads any other layout)."""
    return torch.optim.Adagrad(params, fused=True, **hyper)


@pytest.mark.parametrize("layouts", LAYOUTS, ids=["-".join(x) for x in LAYOUTS])
@pytest.mark.parametrize("hyper", [h for _, h in HYPERPARAMETERS], ids=[n for n, _ in HYPERPARAMETERS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_fused_cpu_equals_torch_fused_on_contiguous(layouts: Any, hyper: Any, dtype: Any, monkeypatch: Any) -> None:
    """Our fused CPU path runs torch's kernel, on contiguous copies where needed: bitwise equal
    to torch's fused path on contiguous tensors, whatever the layout we were given."""
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    params, grads = _problem(dtype, layouts)
    ours, opt = run_trajectory(targets.fused, params, grads, **hyper)
    assert opt.fused_backend == "auto"
    theirs, _ = run_trajectory(
        _torch_fused_contiguous, [p.contiguous() for p in params],
        [[g.contiguous() for g in gs] for gs in grads], **hyper,
    )  # fmt: skip
    assert torch.equal(ours[0], theirs[0])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize(
    "factory", [targets.for_loop, targets.foreach, targets.fused], ids=["for_loop", "foreach", "fused"]
)
def test_half_computed_in_float32_rounded_once(factory: Any, dtype: Any) -> None:
    """One step in half precision equals the float32 step rounded once, within 1 ulp.

    1 ulp: the float32 result itself may be a few float32 ulps off (FMA, sqrt), which can move
    it across a half-precision rounding boundary.
    """
    gen = torch.Generator().manual_seed(2)
    params = [make_layout(torch.randn(SHAPE, generator=gen).to(dtype), "transposed")]
    grads = [[torch.randn(SHAPE, generator=gen).to(dtype)]]
    hyper = dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.1)
    ours, opt = run_trajectory(factory, params, grads, **hyper)
    wide, _ = run_trajectory(_torch_for_loop, [params[0].float()], [[grads[0][0].float()]], **hyper)
    assert ours[0].dtype == dtype
    assert ulp_distance(ours[0], wide[0].to(dtype)) <= 1


@pytest.mark.parametrize(
    "factory", [targets.for_loop, targets.foreach, targets.fused], ids=["for_loop", "foreach", "fused"]
)
def test_float16_zero_gradient_keeps_param(factory: Any) -> None:
    """Spec R7 in float16 with the default eps (torch gives NaN: divergence D3)."""
    params = [torch.ones(40, dtype=torch.float16)]
    ours, _ = run_trajectory(factory, params, [[torch.zeros(40, dtype=torch.float16)]])
    assert torch.equal(ours[0], params[0])
