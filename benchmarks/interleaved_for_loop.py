"""Interleaved timing of the for-loop paths, ours against torch's (docs/performance.md).

pytest-benchmark times torch's rounds, then ours; on a shared VM the drift between the two
blocks (about 5%) is larger than the difference between two for-loops that call the same ATen
ops. Here the two optimizers step alternately (160 steps each, the first 10 dropped, order
swapped every step), so drift hits both alike.

    .venv/bin/python benchmarks/interleaved_for_loop.py
"""

import statistics
import time

import torch

from adagrad.impl import Adagrad

torch.set_num_threads(1)
for shape in [(1, 4 << 20), (64, 64 << 10), (2048, 2 << 10)]:
    n, m = shape
    a = [torch.randn(m, requires_grad=True) for _ in range(n)]
    b = [x.detach().clone().requires_grad_() for x in a]
    for x in a + b:
        x.grad = torch.randn(m)
    ot, oo = torch.optim.Adagrad(a, foreach=False), Adagrad(b, foreach=False)
    tt, to = [], []
    for i in range(160):
        for opt, acc in ((ot, tt), (oo, to)) if i % 2 else ((oo, to), (ot, tt)):
            t0 = time.perf_counter()
            opt.step()
            acc.append(time.perf_counter() - t0)
    print(
        shape,
        f"torch {statistics.median(tt[10:]) * 1e3:.3f} ms ours {statistics.median(to[10:]) * 1e3:.3f} ms "
        f"ratio {statistics.median(to[10:]) / statistics.median(tt[10:]):.3f}",
    )
