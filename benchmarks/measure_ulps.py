"""Measures how far each path of ``adagrad.impl`` lands from torch's, in ulps.

Run: ``TRITON_INTERPRET=1 .venv/bin/python benchmarks/measure_ulps.py`` (the interpreter lets
the Triton kernel run on CPU tensors). Prints a markdown table for ``docs/performance.md``:
for each path and dtype, the largest distance over 10 steps on 4,099 elements with every
hyperparameter on, in plain ulps of the result and in ulps of the largest term (max of |θ| and
lr, which bounds one step's change; plain ulps blow up where an update cancels θ to near 0).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from adagrad.conformance.engine.dtypes import ulp, ulp_distance
from adagrad.impl import targets

CASES = {
    "defaults": {},
    "everything_on": dict(
        lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1, eps=1e-8, maximize=True
    ),
}
STEPS, N = 10, 4099


def _name(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


def _ulps(a: torch.Tensor, b: torch.Tensor) -> int:
    """Largest count of values of the dtype between a and b (conformance.dtypes.ulp_distance)."""
    return int(ulp_distance(a.double().numpy(), b.double().numpy(), _name(a)).max())


def _scaled(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> float:
    """Largest |a - b| in ulps of the dtype at |scale| (conformance.dtypes.ulp)."""
    spacing = ulp(scale.double().numpy(), _name(a))
    return float((np.abs(a.double().numpy() - b.double().numpy()) / spacing).max())


def _run(make, dtype, hyper, seed=0):
    gen = torch.Generator().manual_seed(seed)
    p = torch.randn(N, generator=gen).to(dtype).requires_grad_()
    grads = [torch.randn(N, generator=gen).to(dtype) for _ in range(STEPS)]
    p0 = p.detach().clone()
    opt = make([p], **hyper)
    for g in grads:
        p.grad = g
        opt.step()
    return p0, p.detach()


def _fused_cpu(params, **hyper):
    opt = targets.fused(params, **hyper)
    opt.fused_backend = "cpu"  # torch's CPU kernel even when TRITON_INTERPRET=1
    return opt


def main() -> None:
    torch_for_loop = lambda ps, **h: torch.optim.Adagrad(ps, foreach=False, **h)  # noqa: E731
    torch_fused = lambda ps, **h: torch.optim.Adagrad(ps, fused=True, **h)  # noqa: E731
    rows = [("for_loop", targets.for_loop, torch_for_loop), ("foreach", targets.foreach, torch_for_loop)]
    rows.append(("fused (CPU kernel)", _fused_cpu, torch_fused))
    print("| ours | vs torch | dtype | case | ulps of result | ulps of largest term |")
    print("| --- | --- | --- | --- | ---: | ---: |")
    for name, ours, ref in rows + [("fused (Triton, interpreter)", "triton", torch_for_loop)]:
        if ours == "triton":
            if os.environ.get("TRITON_INTERPRET") != "1":
                continue
            ours = targets.fused
        ref_name = "fused" if ref is torch_fused else "for-loop"
        for dtype in (torch.float32, torch.float64):
            for case, hyper in CASES.items():
                p0, a = _run(ours, dtype, hyper)
                _, b = _run(ref, dtype, hyper)
                scale = torch.maximum(p0.abs().max(b.abs()), torch.full_like(p0, hyper.get("lr", 1e-2)))
                print(
                    f"| {name} | {ref_name} | {str(dtype)[6:]} | {case} | {_ulps(a, b)} | {_scaled(a, b, scale):.1f} |"
                )


if __name__ == "__main__":
    main()
