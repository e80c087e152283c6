"""The fused path on a CUDA GPU: our Triton kernel against torch's fused and foreach CUDA paths.

Run on a GPU machine with ``make gpu-check OUT=dir`` (which also writes the tables for
``docs/performance.md``), or alone::

    .venv/bin/python -m pytest benchmarks/test_bench_gpu.py --benchmark-only -p no:xdist

Every round runs ``STEPS_PER_ROUND`` optimizer steps and then ``torch.cuda.synchronize()``, so
the time covers the kernels, not just their launch, and the synchronisation is spread over
several steps; ``extra_info["steps_per_round"]`` says by how much to divide. Bandwidth: a step
reads param, grad and sum and writes param and sum (5 accesses per element: 20 bytes in float32,
10 in bfloat16), a copy reads and writes once.

``test_host_tables`` runs without a GPU too: it times the host side of the Triton path (grouping,
step counters, the per-tensor and per-block tables) with the kernel launch stubbed out, on CPU
tensors whose memory is never touched, so that the cost of the tables can be measured anywhere;
``pre-cache`` is the same file before its tables were cached (from git), for comparison::

    .venv/bin/python -m pytest benchmarks/test_bench_gpu.py -k host_tables --benchmark-only -p no:xdist
"""

from __future__ import annotations

import subprocess
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from adagrad.impl import Adagrad, triton_kernel

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="CUDA is not available (GPU benchmarks)")

# (name, number of tensors, elements per tensor)
LAYOUTS = [("1x64M", 1, 1 << 26), ("1000x64K", 1000, 1 << 16), ("10000x1K", 10_000, 1 << 10)]
DTYPES = [torch.float32, torch.bfloat16]
IMPLEMENTATIONS: dict[str, Callable[[list[torch.Tensor]], torch.optim.Optimizer]] = {
    "ours_triton": lambda ps: Adagrad(ps, lr=0.01, fused=True),
    "torch_fused": lambda ps: torch.optim.Adagrad(ps, lr=0.01, fused=True),
    "torch_foreach": lambda ps: torch.optim.Adagrad(ps, lr=0.01, foreach=True),
}
STEPS_PER_ROUND = 10
ROUNDS = 20


def _ids(layouts: list[tuple[str, int, int]]) -> list[str]:
    return [name for name, *_ in layouts]


def _cuda_params(count: int, numel: int, dtype: torch.dtype) -> list[torch.Tensor]:
    gen = torch.Generator(device="cuda").manual_seed(0)
    params = []
    for _ in range(count):
        p = torch.randn(numel, generator=gen, device="cuda").to(dtype).requires_grad_()
        p.grad = torch.randn(numel, generator=gen, device="cuda").to(dtype)
        params.append(p)
    return params


def _synchronised(func: Callable[[], Any]) -> Callable[[], None]:
    def run() -> None:
        for _ in range(STEPS_PER_ROUND):
            func()
        torch.cuda.synchronize()

    return run


@needs_cuda
@pytest.mark.parametrize("layout", LAYOUTS, ids=_ids(LAYOUTS))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("impl", list(IMPLEMENTATIONS))
def test_gpu_step(benchmark: Any, layout: tuple[str, int, int], dtype: torch.dtype, impl: str) -> None:
    name, count, numel = layout
    opt = IMPLEMENTATIONS[impl](_cuda_params(count, numel, dtype))
    benchmark.group = f"gpu {name} {str(dtype)[6:]}"
    benchmark.extra_info.update(
        suite="gpu", impl=impl, layout=name, dtype=str(dtype)[6:], elements=count * numel,
        bytes_per_step=5 * count * numel * dtype.itemsize, steps_per_round=STEPS_PER_ROUND,
        device=torch.cuda.get_device_name(),
    )  # fmt: skip
    benchmark.pedantic(_synchronised(opt.step), rounds=ROUNDS, warmup_rounds=2, iterations=1)


@needs_cuda
@pytest.mark.parametrize("layout", LAYOUTS, ids=_ids(LAYOUTS))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_gpu_copy(benchmark: Any, layout: tuple[str, int, int], dtype: torch.dtype) -> None:
    """``torch._foreach_copy_`` over the same tensors: the bandwidth a one-pass step can hope for.

    On 1x64M this is one large copy, the device's measured copy bandwidth.
    """
    name, count, numel = layout
    src = [torch.randn(numel, device="cuda").to(dtype) for _ in range(count)]
    dst = [torch.empty_like(x) for x in src]
    benchmark.group = f"gpu {name} {str(dtype)[6:]}"
    benchmark.extra_info.update(
        suite="gpu", impl="copy", layout=name, dtype=str(dtype)[6:], elements=count * numel,
        bytes_per_step=2 * count * numel * dtype.itemsize, steps_per_round=STEPS_PER_ROUND,
        device=torch.cuda.get_device_name(),
    )  # fmt: skip
    benchmark.pedantic(_synchronised(lambda: torch._foreach_copy_(dst, src)), rounds=ROUNDS, warmup_rounds=2)


class _NoLaunch:
    """Stands in for the compiled kernel: ``kernel[grid](...)`` does nothing."""

    def __getitem__(self, grid: Any) -> Callable[..., None]:
        return lambda *args, **kwargs: None


HOST_DEVICES = ["cpu"] + (["cuda"] if CUDA else [])
#: The last commit whose Triton host side rebuilt its tables at every step.
PRE_CACHE_COMMIT = "8d2cf85"


def _host_module(version: str) -> Any:
    """``impl/triton_kernel.py`` now, or as it was at PRE_CACHE_COMMIT (read from git)."""
    if version == "cached":
        return triton_kernel
    root = Path(__file__).resolve().parent.parent
    git = subprocess.run(
        ["git", "show", f"{PRE_CACHE_COMMIT}:impl/triton_kernel.py"], cwd=root, capture_output=True, text=True
    )
    if git.returncode != 0:
        pytest.skip(f"no git history here for the pre-cache version ({git.stderr.strip()[:100]})")
    module = types.ModuleType("adagrad.impl._triton_kernel_pre_cache")
    module.__package__ = "adagrad.impl"
    exec(compile(git.stdout, f"impl/triton_kernel.py@{PRE_CACHE_COMMIT}", "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("layout", LAYOUTS, ids=_ids(LAYOUTS))
@pytest.mark.parametrize("device", HOST_DEVICES)
@pytest.mark.parametrize("version", ["cached", "pre-cache"])
def test_host_tables(benchmark: Any, layout: tuple[str, int, int], device: str, version: str, monkeypatch: Any) -> None:
    """Host time of one Triton-path step without the kernel: what the tables cost per step, now
    and before they were cached.

    The gradients are the same tensors at every step (as with ``zero_grad(set_to_none=False)``);
    new gradient tensors at the same addresses hit the same cache.
    """
    name, count, numel = layout
    module = _host_module(version)
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # lets fused_triton_adagrad accept CPU tensors
    monkeypatch.setattr(module, "_kernel", lambda: _NoLaunch())
    # torch.empty does not touch its pages: 64M-element CPU tensors cost no memory here.
    ps, gs, ss = ([torch.empty(numel, device=device) for _ in range(count)] for _ in range(3))
    ts = [torch.zeros((), dtype=torch.float64, device=device) for _ in range(count)]
    hyper = dict(lr=0.01, weight_decay=0.0, lr_decay=0.0, eps=1e-10, maximize=False, differentiable=False,
                 has_sparse_grad=False, has_complex=False, grad_scale=None, found_inf=None)  # fmt: skip
    benchmark.group = f"host tables {name} {device}"
    benchmark.extra_info.update(suite="host", impl=version, layout=name, device=device, elements=count * numel)
    benchmark.pedantic(lambda: module.fused_triton_adagrad(ps, gs, ss, ts, **hyper), rounds=20, warmup_rounds=1)
