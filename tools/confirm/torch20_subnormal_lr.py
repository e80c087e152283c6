"""Known divergence T5 on a subnormal lr: torch 2.0, foreach=True, float64 params, lr = 2**-1048.

Run with a torch 2.0 environment (e.g. `.tox/torch2_0/bin/python tools/confirm/torch20_subnormal_lr.py`):
the for-loop matches the exact update; foreach rounds the lr to float32, where 2**-1048 is 0, and
leaves the params unchanged; torch 2.3+ matches on both paths.
"""

import torch

lr = 2.0**-1048
for foreach in (False, True):
    p = torch.tensor([2.0**-1040, -3 * 2.0**-1045], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adagrad([p], lr=lr, foreach=foreach)
    p.grad = torch.tensor([0.5, -2.0], dtype=torch.float64)
    opt.step()
    exact = [2.0**-1040 - lr * 0.5 / (0.5 + 1e-10), -3 * 2.0**-1045 + lr * 2.0 / (2.0 + 1e-10)]
    print(torch.__version__, "foreach" if foreach else "for-loop", [float(x) for x in p.detach()], "expected ~", exact)
