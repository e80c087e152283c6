"""The Triton kernel on CPU tensors through Triton's interpreter (``TRITON_INTERPRET=1``).

The interpreter is slow: tensors are small and launches few. Each test checks one launch that
serves several tensors (several blocks each, mixed layouts) against torch's for-loop.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import torch

pytest.importorskip("triton")

from impl_helpers import make_layout, run_trajectory, ulp_distance, ulps_of_scale  # noqa: E402

from adagrad.impl import targets, triton_kernel, triton_tables  # noqa: E402

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


def _steps_of(opt: torch.optim.Optimizer) -> list[float]:
    return [opt.state[p]["step"].item() for group in opt.param_groups for p in group["params"]]


def test_tables_rebuilt_only_when_a_layout_changes(interpret: None, monkeypatch: Any) -> None:
    """New gradient tensors (new addresses) reuse the layout; a new layout is rebuilt, and the
    results stay those of torch's for-loop throughout."""
    triton_kernel.clear_table_cache()
    builds: list[int] = []
    real_build = triton_tables._build_layout
    monkeypatch.setattr(triton_tables, "_build_layout", lambda *a: builds.append(1) or real_build(*a))
    params, grads = _mixed_problem(torch.float32, steps=4)
    # Steps 1-3: fresh gradient tensors with the same layouts. Step 4: the sliced gradient of
    # the transposed parameter becomes contiguous, a new layout.
    grads[3][1] = grads[3][1].contiguous()
    expected_builds = iter([1, 1, 1, 2])

    def checked(ps: Any, **hyper: Any) -> torch.optim.Optimizer:
        opt = targets.fused(ps, **hyper)
        real_step = opt.step
        opt.step = lambda: (real_step(), _assert_builds(next(expected_builds)))[0]  # type: ignore[method-assign]
        return opt

    def _assert_builds(n: int) -> None:
        assert len(builds) == n

    ours, _ = run_trajectory(checked, params, grads, lr=0.1, weight_decay=0.1)
    theirs, _ = run_trajectory(torch.optim.Adagrad, params, grads, foreach=False, lr=0.1, weight_decay=0.1)
    for p0, a, b in zip(params, ours, theirs):
        assert ulps_of_scale(a, b, _scale(p0, b, 0.1)) <= ULPS


def test_device_table_reused_until_an_address_moves(interpret: None) -> None:
    triton_kernel.clear_table_cache()
    gen = torch.Generator().manual_seed(6)
    ps = [torch.randn(3, 5, generator=gen), torch.randn(7, generator=gen)]
    gs = [torch.randn(3, 5, generator=gen), torch.randn(7, generator=gen)]
    ss = [torch.zeros_like(p) for p in ps]
    ts = [torch.zeros((), dtype=torch.float64) for _ in ps]
    hyper = dict(lr=0.1, weight_decay=0.0, lr_decay=0.0, eps=1e-10, maximize=False, differentiable=False,
                 has_sparse_grad=False, has_complex=False, grad_scale=None, found_inf=None)  # fmt: skip

    def table() -> torch.Tensor:
        (entry,) = triton_tables._TABLES.values()
        assert entry.table is not None
        return entry.table

    triton_kernel.fused_triton_adagrad(ps, gs, ss, ts, **hyper)
    first = table()
    triton_kernel.fused_triton_adagrad(ps, gs, ss, ts, **hyper)
    assert table() is first  # nothing moved: no rebuild, no upload
    gs[1] = gs[1].clone()
    triton_kernel.fused_triton_adagrad(ps, gs, ss, ts, **hyper)
    assert table() is not first
    assert table()[1, triton_tables.COL_G].item() == gs[1].data_ptr()
    assert [t.item() for t in ts] == [3.0, 3.0]


def test_param_data_swapped_for_another_layout(interpret: None) -> None:
    """``p.data = ...`` keeps the tensor object but changes its strides: the cache must notice."""
    triton_kernel.clear_table_cache()
    gen = torch.Generator().manual_seed(7)
    p = torch.randn(9, 13, generator=gen).requires_grad_()
    opt = targets.fused([p], lr=0.1)
    ref = torch.optim.Adagrad([q := p.detach().clone().requires_grad_()], lr=0.1, foreach=False)
    for k in range(3):
        if k == 2:
            p.data = make_layout(p.detach(), "transposed")
            opt.state[p]["sum"] = make_layout(opt.state[p]["sum"], "transposed")
        g = torch.randn(9, 13, generator=gen)
        p.grad, q.grad = g, g.clone()
        opt.step()
        ref.step()
    assert p.stride() == (1, 9)
    assert ulps_of_scale(p.detach(), q.detach(), _scale(q.detach(), q.detach(), 0.1)) <= ULPS


def test_grad_shaped_unlike_param_is_refused(interpret: None) -> None:
    triton_kernel.clear_table_cache()
    ps, ss = [torch.ones(4, 3)], [torch.zeros(4, 3)]
    ts = [torch.zeros((), dtype=torch.float64)]
    with pytest.raises(
        RuntimeError, match=r"tensor 0: grad \(3, 4\) and sum \(4, 3\) must have the param's shape \(4, 3\)"
    ):
        triton_kernel.fused_triton_adagrad(
            ps, [torch.ones(3, 4)], ss, ts, lr=0.1, weight_decay=0.0, lr_decay=0.0, eps=1e-10, maximize=False,
            differentiable=False, has_sparse_grad=False, has_complex=False, grad_scale=None, found_inf=None,
        )  # fmt: skip
    assert ts[0].item() == 0 and torch.equal(ps[0], torch.ones(4, 3))  # nothing changed


# The kernel compiled for a real GPU (sm_90) without one: Triton's NVIDIA backend runs on CPU.
# The PTX must use IEEE sqrt and division (no approximations, no flush-to-zero) and fuse exactly
# the two multiply-adds the kernel writes: one sqrt per element, two FMAs per element.
PTX_CASES = [("float32", "*fp32", "f32"), ("float64", "*fp64", "f64"), ("bfloat16", "*bf16", "f32")]


@pytest.mark.parametrize(("name", "pointer", "suffix"), PTX_CASES, ids=[c[0] for c in PTX_CASES])
def test_compiles_for_sm90_with_ieee_arithmetic(name: str, pointer: str, suffix: str, monkeypatch: Any) -> None:
    try:
        import triton
        import triton.language as tl
        from triton.backends.compiler import GPUTarget
        from triton.compiler import ASTSource
    except ImportError as exc:  # pragma: no cover - depends on the triton build
        pytest.skip(f"triton has no ahead-of-time compiler here: {exc}")
    # A fresh copy of the kernel's module with the interpreter off (triton.jit reads it when the
    # module is executed; another test may have imported the interpreted one already).
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    source = Path(triton_kernel.__file__).with_name("triton_jit.py")
    spec = importlib.util.spec_from_file_location("adagrad.impl._triton_jit_compiled", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    kernel = module.adagrad_kernel
    signature = {arg: "constexpr" for arg in kernel.arg_names}
    signature.update(table_ptr="*i64", blocks_ptr="*i64", hyper_ptr="*fp64", scale_ptr="*fp32", inf_ptr="*fp32",
                     elem_like_ptr=pointer, step_like_ptr="*fp64")  # fmt: skip
    constants = dict(MAXIMIZE=True, HAS_WD=True, HAS_SCALE=True, HAS_INF=True,
                     COMPUTE=tl.float64 if name == "float64" else tl.float32, IS_FP64=name == "float64",
                     IS_BF16=name == "bfloat16", ROW=triton_tables.ROW, BLOCK=triton_kernel.BLOCK_SIZE)  # fmt: skip
    compiled = triton.compile(
        ASTSource(kernel, signature, constants),
        target=GPUTarget("cuda", 90, 32),
        options=dict(triton_kernel.LAUNCH_OPTIONS),
    )
    ptx = compiled.asm["ptx"]
    sqrts = ptx.count(f"sqrt.rn.{suffix}")
    assert sqrts > 0 and ptx.count(f"div.rn.{suffix}") >= 2 * sqrts  # unscale and update
    assert ptx.count(f"fma.rn.{suffix}") == 2 * sqrts
    assert "approx" not in ptx and ".ftz" not in ptx


def test_triton_without_the_kernels_needs_is_refused_before_any_change(monkeypatch: Any) -> None:
    """A triton whose language lacks what the kernel uses (triton 2.x, pinned by torch 2.0-2.3)
    is refused with a RuntimeError naming what is missing, before the step counts."""
    import triton.language as tl

    monkeypatch.delattr(tl, "div_rn")
    triton_kernel.triton_missing.cache_clear()
    try:
        assert not triton_kernel.triton_available()
        p, s, t = torch.ones(3), torch.zeros(3), torch.zeros((), dtype=torch.float64)
        with pytest.raises(
            RuntimeError,
            match=r"^the fused Triton path cannot run: triton .* has no triton\.language\.div_rn \(the kernel needs triton >= 3\)$",
        ):
            triton_kernel.fused_triton_adagrad(
                [p], [torch.ones(3)], [s], [t], lr=0.1, weight_decay=0.0, lr_decay=0.0, eps=1e-10, maximize=False,
                differentiable=False, has_sparse_grad=False, has_complex=False, grad_scale=None, found_inf=None,
            )  # fmt: skip
        assert t.item() == 0 and torch.equal(p, torch.ones(3)) and torch.equal(s, torch.zeros(3))
    finally:
        monkeypatch.undo()
        triton_kernel.triton_missing.cache_clear()
    assert triton_kernel.triton_available()
