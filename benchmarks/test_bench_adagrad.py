"""Step time of ``adagrad.impl.Adagrad`` against ``torch.optim.Adagrad``, per path (CPU, float32).

Run with ``make bench``. Each benchmark times one ``optimizer.step()`` on a fixed set of
parameters whose gradients are set once (the step does not depend on their values for speed).
``conftest.py`` prints the ours/torch ratio of median times and the fused path's bandwidth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from adagrad.impl import Adagrad

# (name, number of tensors, elements per tensor): 4M elements in every layout.
LAYOUTS = [("1x4M", 1, 1 << 22), ("64x64K", 64, 1 << 16), ("2048x2K", 2048, 1 << 11)]
PATHS = {
    "for_loop": {"foreach": False, "fused": False},
    "foreach": {"foreach": True, "fused": False},
    "fused": {"foreach": False, "fused": True},
}
IMPLEMENTATIONS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "torch": torch.optim.Adagrad,
    "ours": Adagrad,
}
ROUNDS = 100


def _params(count: int, numel: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    params = []
    for _ in range(count):
        p = torch.randn(numel, generator=gen).requires_grad_()
        p.grad = torch.randn(numel, generator=gen)
        params.append(p)
    return params


@pytest.mark.parametrize("layout", LAYOUTS, ids=[name for name, *_ in LAYOUTS])
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("impl", list(IMPLEMENTATIONS))
def test_step(benchmark: Any, layout: tuple[str, int, int], path: str, impl: str) -> None:
    name, count, numel = layout
    opt = IMPLEMENTATIONS[impl](_params(count, numel), lr=0.01, **PATHS[path])
    benchmark.group = f"{path} {name}"
    benchmark.extra_info.update(impl=impl, path=path, layout=name, elements=count * numel)
    benchmark.pedantic(opt.step, rounds=ROUNDS, warmup_rounds=3, iterations=1)


@pytest.mark.parametrize("layout", LAYOUTS, ids=[name for name, *_ in LAYOUTS])
def test_copy(benchmark: Any, layout: tuple[str, int, int]) -> None:
    """A plain copy of the same tensors: the bandwidth a one-pass step can hope for."""
    name, count, numel = layout
    src = [torch.randn(numel) for _ in range(count)]
    dst = [torch.empty(numel) for _ in range(count)]
    benchmark.group = f"copy {name}"
    benchmark.extra_info.update(impl="copy", path="copy", layout=name, elements=count * numel)
    benchmark.pedantic(torch._foreach_copy_, args=(dst, src), rounds=ROUNDS, warmup_rounds=3)
