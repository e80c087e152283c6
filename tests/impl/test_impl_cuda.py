"""``adagrad.impl.Adagrad`` on CUDA tensors: its three paths against torch's CUDA paths and the oracle.

Needs a CUDA GPU (and triton for the fused path); skipped with the reason elsewhere. Run them on
a GPU machine with ``make gpu-check OUT=dir`` (see ``tools/gpu_check.py``) or
``.venv/bin/python -m pytest tests/impl/test_impl_cuda.py -p no:xdist -rs``, in a process that
has not run the Triton interpreter tests (the compiled kernel is chosen at the first launch).

What is asserted, and why that strictly:

- every path, ours and torch's, stays within the error model's bound of the float64 oracle
  (``docs/error-model.md``: the same bound the suite uses, valid for any evaluation order, FMA
  or not), for contiguous and strided layouts;
- our for-loop equals torch's CUDA for-loop bitwise in float32/float64 (the same ATen ops in the
  same order, as on CPU);
- the compiled Triton kernel equals Triton's CPU interpreter bitwise (no automatic FMA
  contraction, IEEE sqrt and division: the same operations), so what CI checks on CPU holds on
  the GPU bit for bit;
- GradScaler's ``grad_scale``/``found_inf`` with a real ``torch.amp.GradScaler``;
- tensors above 2**31 bytes (and above 2**31 elements) are indexed right near the boundary.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from impl_helpers import clone_keep_layout, make_layout, run_trajectory, ulp_distance

from adagrad.conformance.engine.error_model import ErrorTracker
from adagrad.impl import targets, triton_kernel
from adagrad.reference.functional import adagrad_step

pytestmark = pytest.mark.cuda
if not torch.cuda.is_available():
    # One line in the summary (pytest -rs, on in pyproject.toml) rather than one per test.
    pytest.skip(
        "CUDA is not available: the cuda tests run on a GPU machine (make gpu-check OUT=dir)", allow_module_level=True
    )
needs_triton = pytest.mark.skipif(not triton_kernel.triton_available(), reason="triton is not installed")

DEVICE = "cuda"
Factory = Callable[..., torch.optim.Optimizer]
OURS: dict[str, Factory] = {"for_loop": targets.for_loop, "foreach": targets.foreach, "fused": targets.fused}
TORCH: dict[str, Factory] = {
    "for_loop": lambda ps, **h: torch.optim.Adagrad(ps, foreach=False, **h),
    "foreach": lambda ps, **h: torch.optim.Adagrad(ps, foreach=True, **h),
    "fused": lambda ps, **h: torch.optim.Adagrad(ps, fused=True, **h),
}
HYPERPARAMETERS: list[tuple[str, dict[str, Any]]] = [
    ("defaults", {}),
    ("everything_on", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1, eps=1e-8, maximize=True)),
]  # fmt: skip
# (param layout, grad layout): contiguous, transposed/sliced, sliced/expanded.
LAYOUTS = [("contiguous", "contiguous"), ("transposed", "sliced"), ("sliced", "expanded")]
SHAPE = (37, 129)  # several 1024-element blocks, a ragged last block
STEPS = 3


@pytest.fixture(autouse=True)
def compiled_kernel() -> None:
    """The compiled kernel, not the interpreter: TRITON_INTERPRET must be off in this process."""
    if os.environ.get("TRITON_INTERPRET", "0") == "1":
        pytest.fail("TRITON_INTERPRET=1 is set: the CUDA tests must run the compiled kernel")


def _problem(dtype: torch.dtype, layouts: tuple[str, str], seed: int = 0) -> tuple[list, list]:
    gen = torch.Generator().manual_seed(seed)
    p_layout, g_layout = layouts
    params = [make_layout(torch.randn(SHAPE, generator=gen).to(DEVICE, dtype), p_layout)]
    grads = [[make_layout(torch.randn(SHAPE, generator=gen).to(DEVICE, dtype), g_layout)] for _ in range(STEPS)]
    return params, grads


def _assert_within_oracle(
    p0: torch.Tensor, grads: list[torch.Tensor], param: torch.Tensor, state_sum: torch.Tensor, hyper: dict[str, Any]
) -> None:
    """|result - float64 oracle| within the error model's bound, element by element."""
    name = str(p0.dtype).removeprefix("torch.")
    tau = float(hyper.get("initial_accumulator_value", 0.0))
    model = {
        k: float(hyper.get(k, d)) for k, d in (("lr", 1e-2), ("lr_decay", 0.0), ("weight_decay", 0.0), ("eps", 1e-10))
    }
    p = p0.double().cpu().numpy()
    s = np.full_like(p, tau)
    tracker = ErrorTracker(name, p.shape, tau)
    bound = tracker.current()
    for k, g in enumerate(grads):
        g64 = g.double().cpu().numpy()
        bound = tracker.step(p, g64, s, k, maximize=bool(hyper.get("maximize", False)), **model)
        p, s, _ = adagrad_step(p, g64, s, k, maximize=bool(hyper.get("maximize", False)), **model)
    for got, want, tol, what in ((param, p, bound.param, "param"), (state_sum, s, bound.sum, "sum")):
        err = np.abs(got.double().cpu().numpy() - want)
        assert np.all(err <= tol), f"{what}: {float(np.max(err / tol)):.2f} x the error model's bound"


@pytest.mark.parametrize("layouts", LAYOUTS, ids=["-".join(x) for x in LAYOUTS])
@pytest.mark.parametrize("hyper", [h for _, h in HYPERPARAMETERS], ids=[n for n, _ in HYPERPARAMETERS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
@pytest.mark.parametrize("path", list(OURS))
def test_paths_within_error_model_of_oracle(path: str, dtype: Any, hyper: Any, layouts: Any) -> None:
    if path == "fused" and not triton_kernel.triton_available():
        pytest.skip("triton is not installed")
    params, grads = _problem(dtype, layouts)
    ours, opt = run_trajectory(OURS[path], params, grads, **hyper)
    assert ours[0].stride() == params[0].stride() and ours[0].device == params[0].device
    _assert_within_oracle(params[0], [g[0] for g in grads], ours[0], opt.state_dict()["state"][0]["sum"], hyper)


@pytest.mark.parametrize("layouts", LAYOUTS, ids=["-".join(x) for x in LAYOUTS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("path", list(TORCH))
def test_torch_cuda_paths_within_error_model(path: str, dtype: Any, layouts: Any) -> None:
    """The same check on torch's CUDA paths: the yardstick ours is held to is one torch meets."""
    hyper = dict(HYPERPARAMETERS)["everything_on"]
    params, grads = _problem(dtype, layouts)
    if path == "fused":  # torch's fused kernels assume dense tensors of one layout (D5 on CPU)
        params, grads = [p.contiguous() for p in params], [[g.contiguous() for g in gs] for gs in grads]
    theirs, opt = run_trajectory(TORCH[path], params, grads, **hyper)
    _assert_within_oracle(params[0], [g[0] for g in grads], theirs[0], opt.state_dict()["state"][0]["sum"], hyper)


@pytest.mark.parametrize("layouts", LAYOUTS, ids=["-".join(x) for x in LAYOUTS])
@pytest.mark.parametrize("hyper", [h for _, h in HYPERPARAMETERS], ids=[n for n, _ in HYPERPARAMETERS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_for_loop_bitwise_equal_to_torch_cuda_for_loop(dtype: Any, hyper: Any, layouts: Any) -> None:
    params, grads = _problem(dtype, layouts)
    ours, opt = run_trajectory(OURS["for_loop"], params, grads, **hyper)
    theirs, ref = run_trajectory(TORCH["for_loop"], params, grads, **hyper)
    assert torch.equal(ours[0], theirs[0])
    assert torch.equal(opt.state_dict()["state"][0]["sum"], ref.state_dict()["state"][0]["sum"])


# Runs the same trajectories through the kernel under Triton's CPU interpreter, in a fresh
# process (the interpreter is chosen when the kernel is first imported).
_INTERPRETER_SCRIPT = textwrap.dedent(
    """
    import sys, torch
    from adagrad.impl import targets
    cases = torch.load(sys.argv[1])
    out = []
    for case in cases:
        params = [p.requires_grad_() for p in case["params"]]
        opt = targets.fused(params, **case["hyper"])
        assert opt.fused_backend == "triton"
        grads_seen = []
        for step_grads in case["grads"]:
            for p, g in zip(params, step_grads):
                p.grad = g
            if case["scale"] is not None:
                opt.grad_scale, opt.found_inf = case["scale"].clone(), torch.tensor(0.0)
            opt.step()
            grads_seen.append([p.grad.clone() for p in params])
        out.append({"params": [p.detach() for p in params], "sums": [opt.state[p]["sum"] for p in params],
                    "grads": grads_seen})
    torch.save(out, sys.argv[2])
    """
)


@needs_triton
def test_compiled_kernel_equals_interpreter_bitwise(tmp_path: Path) -> None:
    """The GPU's results are the CPU interpreter's, bit for bit, for every dtype and flag."""
    cases = []
    gen = torch.Generator().manual_seed(11)
    for dtype in (torch.float32, torch.float64, torch.bfloat16, torch.float16):
        for (name, hyper), scale in ((HYPERPARAMETERS[0], None), (HYPERPARAMETERS[1], 3.0)):
            shapes = [(SHAPE, "transposed"), ((2 * 1024 + 17,), None), ((), None)]
            params = [torch.randn(s, generator=gen).to(dtype) for s, _ in shapes]
            params[0] = params[0].t().contiguous().t()
            grads = [[torch.randn(p.shape, generator=gen).to(dtype) for p in params] for _ in range(STEPS)]
            cases.append(dict(name=f"{dtype}-{name}", params=params, grads=grads, hyper=hyper,
                              scale=None if scale is None else torch.tensor(scale)))  # fmt: skip
    torch.save([{k: v for k, v in c.items() if k != "name"} for c in cases], tmp_path / "in.pt")
    env = {**os.environ, "TRITON_INTERPRET": "1", "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-c", _INTERPRETER_SCRIPT, str(tmp_path / "in.pt"), str(tmp_path / "out.pt")],
                   env=env, check=True, timeout=300)  # fmt: skip
    interpreted = torch.load(tmp_path / "out.pt")
    for case, cpu in zip(cases, interpreted):
        params = [clone_keep_layout(p.to(DEVICE)).requires_grad_() for p in case["params"]]
        opt = targets.fused(params, **case["hyper"])
        for k, step_grads in enumerate(case["grads"]):
            for p, g in zip(params, step_grads):
                p.grad = g.to(DEVICE)
            if case["scale"] is not None:
                opt.grad_scale, opt.found_inf = case["scale"].to(DEVICE), torch.zeros((), device=DEVICE)
            opt.step()
            for p, g_cpu in zip(params, cpu["grads"][k]):
                # A bfloat16 gradient unscaled in place is stored with a plain cast, which the
                # interpreter truncates and the GPU rounds to nearest: at most 1 ulp apart.
                limit = 1 if (p.dtype == torch.bfloat16 and case["scale"] is not None) else 0
                assert ulp_distance(p.grad.cpu(), g_cpu) <= limit, case["name"]
        for p, s, p_cpu, s_cpu in zip(params, (opt.state[p]["sum"] for p in params), cpu["params"], cpu["sums"]):
            if p.dtype == torch.bfloat16 and case["scale"] is not None:
                continue  # its inputs (the unscaled grads) may differ by the cast above
            assert torch.equal(p.detach().cpu(), p_cpu), case["name"]
            assert torch.equal(s.cpu(), s_cpu), case["name"]


@needs_triton
def test_mixed_dtypes_and_devices_in_one_group(monkeypatch: Any) -> None:
    """One group with float32, float64 and bfloat16 CUDA params and a CPU param: each path
    updates all of them; the fused path launches the kernel once per CUDA (device, dtype)."""
    launches: list[torch.dtype] = []
    real_launch = triton_kernel._launch
    monkeypatch.setattr(triton_kernel, "_launch", lambda *a, **k: launches.append(k["dtype"]) or real_launch(*a, **k))
    gen = torch.Generator().manual_seed(12)
    specs = [(DEVICE, torch.float32), (DEVICE, torch.float64), (DEVICE, torch.bfloat16), (DEVICE, torch.float32), ("cpu", torch.float32)]  # fmt: skip
    params = [torch.randn(3, 700, generator=gen).to(dev, dt) for dev, dt in specs]
    grads = [[torch.randn(3, 700, generator=gen).to(p.device, p.dtype) for p in params] for _ in range(2)]
    hyper = dict(HYPERPARAMETERS)["everything_on"]
    for path, factory in OURS.items():
        launches.clear()
        ours, opt = run_trajectory(factory, params, grads, **hyper)
        for i, (p0, p) in enumerate(zip(params, ours)):
            assert p.device == p0.device and p.dtype == p0.dtype
            _assert_within_oracle(p0, [g[i] for g in grads], p, opt.state_dict()["state"][i]["sum"], hyper)
        if path == "fused":
            assert launches == [torch.float32, torch.float64, torch.bfloat16] * 2  # two steps


@needs_triton
@pytest.mark.parametrize("path", ["ours", "torch"])
def test_grad_scaler(path: str) -> None:
    """A real GradScaler: a finite step unscales and updates; an inf skips everything."""
    gen = torch.Generator().manual_seed(13)
    w0 = torch.randn(64, 33, generator=gen).to(DEVICE)
    x = torch.randn(8, 64, generator=gen).to(DEVICE)
    w = w0.clone().requires_grad_()
    opt = targets.fused([w], lr=0.1) if path == "ours" else TORCH["fused"]([w], lr=0.1)
    scaler = torch.amp.GradScaler(DEVICE, init_scale=2.0**10)
    loss = (x @ w).square().mean()
    scaler.scale(loss).backward()
    grad_before = w.grad.clone()
    scaler.step(opt)
    scaler.update()
    # The power-of-two scale divides exactly: the grad left behind is the scaled one / 2**10.
    assert torch.equal(w.grad, grad_before / 2.0**10)
    assert opt.state[w]["step"].item() == 1
    _assert_within_oracle(w0, [w.grad], w.detach(), opt.state[w]["sum"], dict(lr=0.1))
    w_after, sum_after = w.detach().clone(), opt.state[w]["sum"].clone()
    opt.zero_grad()
    scaler.scale((x @ w).sum() * float("inf")).backward()
    scaler.step(opt)
    assert torch.equal(w.detach(), w_after) and torch.equal(opt.state[w]["sum"], sum_after)
    assert opt.state[w]["step"].item() == 1


def _big_case(numel: int, dtype: torch.dtype, needed_bytes: int) -> None:
    free, _ = torch.cuda.mem_get_info()
    if free < needed_bytes * 1.1:
        pytest.skip(f"needs {needed_bytes / 2**30:.1f} GiB of free GPU memory, {free / 2**30:.1f} GiB free")
    # Around the element at byte offset 2**31 and, if there is one, the element at index 2**31.
    boundaries = [2**31 // dtype.itemsize] + ([2**31] if numel > 2**31 + 1500 else [])
    windows = [slice(0, 2048), *(slice(b - 1500, b + 1500) for b in boundaries), slice(numel - 2048, numel)]
    hyper = dict(lr=0.1, weight_decay=0.1, eps=1e-8)
    for path, factory in OURS.items():
        if path == "fused" and not triton_kernel.triton_available():
            continue
        gen = torch.Generator(device=DEVICE).manual_seed(14)
        p = torch.randn(numel, generator=gen, device=DEVICE, dtype=dtype).requires_grad_()
        p.grad = torch.randn(numel, generator=gen, device=DEVICE, dtype=dtype)
        before = [(p.detach()[w].clone(), p.grad[w].clone()) for w in windows]
        opt = factory([p], **hyper)
        opt.step()
        torch.cuda.synchronize()
        for w, (p0, g0) in zip(windows, before):
            _assert_within_oracle(p0, [g0], p.detach()[w], opt.state[p]["sum"][w], hyper)
        del p, opt
        torch.cuda.empty_cache()


@pytest.mark.timeout(300)
def test_tensor_above_2_31_bytes() -> None:
    """float32, 2**29 + 4099 elements: byte offsets beyond 2**31 (param, grad, sum: 6.4 GB; the
    for-loop's temporaries as much again)."""
    n = 2**29 + 4099
    _big_case(n, torch.float32, 6 * 4 * n)


@pytest.mark.timeout(300)
def test_tensor_above_2_31_elements() -> None:
    """bfloat16, 2**31 + 2053 elements: element indices beyond 2**31 (param, grad, sum: 12.9 GB;
    the for-loop computes in float32: its copies and temporaries, up to 43 GB)."""
    n = 2**31 + 2053
    _big_case(n, torch.bfloat16, 3 * 2 * n + 5 * 4 * n)
