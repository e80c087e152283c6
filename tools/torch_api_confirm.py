"""Confirm, outside the suite, each deviation `check` reported for the torch-API Adagrads of other
libraries (docs/compatibility.md, "Torch-API optimizers of other libraries"). Plain torch: every
line compares the library with torch.optim.Adagrad on the same inputs and prints what differs.

    .venv/bin/python tools/torch_api_confirm.py [bitsandbytes] [torchopt] [deepspeed]
"""

from __future__ import annotations

import sys
import warnings

import torch

warnings.filterwarnings("ignore")


def pair(make, dtype=torch.float64, n=5, steps=1, group=None, **hyper):
    """(library params, torch params) after ``steps`` steps of the same gradients."""
    out = []
    for factory in (make, torch.optim.Adagrad):
        gen = torch.Generator().manual_seed(0)
        p = torch.rand(n, generator=gen, dtype=torch.float64).to(dtype).requires_grad_()
        opt = factory([{"params": [p], **(group or {})}], **hyper)
        for _ in range(steps):
            p.grad = (torch.rand(n, generator=gen, dtype=torch.float64) * 4 - 2).to(dtype)
            opt.step()
        out.append((p.detach().clone(), opt))
    return out


def bitsandbytes() -> None:
    import bitsandbytes as bnb

    (lib, o), (ref, _) = pair(bnb.optim.Adagrad, torch.float64, lr=0.1)
    as32 = pair(bnb.optim.Adagrad, torch.float32, lr=0.1)[0][0]
    print("bnb float64: state1 dtype", o.state[o.param_groups[0]["params"][0]]["state1"].dtype,
          "| max |bnb - torch| =", float((lib - ref).abs().max()), "| bnb float64 == bnb float32 result:", torch.equal(lib.float(), as32))
    for n in (4095, 4096, 65537):
        (p8, o8), (pt, ot) = pair(bnb.optim.Adagrad8bit, torch.float32, n=n, lr=0.1)
        p32 = pair(bnb.optim.Adagrad32bit, torch.float32, n=n, lr=0.1)[0][0]
        e = o8.state[o8.param_groups[0]["params"][0]]
        from adagrad.conformance.adapters.bitsandbytes_adagrad import dequantize

        s8, st = dequantize(e), ot.state[ot.param_groups[0]["params"][0]]["sum"]
        print(f"bnb 8-bit, {n} elements: state1 {e['state1'].dtype}, max relative error of the sum "
              f"{float(((s8 - st).abs() / st.abs().clamp_min(1e-30)).max()):.3g}; max relative param difference 8-bit "
              f"{float(((p8 - pt).abs() / pt.abs()).max()):.3g}, 32-bit {float(((p32 - pt).abs() / pt.abs()).max()):.3g}")
    p = torch.ones(2, requires_grad=True)
    print("bnb state after construction:", dict(bnb.optim.Adagrad([p], lr=0.1).state), "(torch:", dict(torch.optim.Adagrad([p], lr=0.1).state), ")")
    for key, value in (("lr_decay", 0.5), ("maximize", True), ("initial_accumulator_value", 1.0)):
        (lib, _), (ref, _) = pair(bnb.optim.Adagrad, torch.float32, steps=2, group={key: value}, lr=0.1)
        plain = pair(bnb.optim.Adagrad, torch.float32, steps=2, lr=0.1)[0][0]
        print(f"bnb group {{{key!r}: {value}}} accepted; result == without it: {torch.equal(lib, plain)}; == torch's: {torch.equal(lib, ref)}")
    for name in ("complex64",):
        p = torch.tensor([1 + 2j, -1 + 0.5j], dtype=getattr(torch, name), requires_grad=True)
        opt = bnb.optim.Adagrad([p], lr=0.1)
        p.grad = torch.tensor([0.5 - 1j, 1j], dtype=p.dtype)
        opt.step()
        q = torch.tensor([1 + 2j, -1 + 0.5j], dtype=p.dtype, requires_grad=True)
        ref = torch.optim.Adagrad([q], lr=0.1)
        q.grad = torch.tensor([0.5 - 1j, 1j], dtype=p.dtype)
        ref.step()
        print(f"bnb {name}: {p.detach().tolist()} vs torch {q.detach().tolist()}")
    p = torch.ones(2, requires_grad=True)
    opt = bnb.optim.Adagrad([p], lr=0.1)
    calls = []
    opt.register_load_state_dict_pre_hook(lambda o, sd: calls.append("pre"))
    opt.register_load_state_dict_post_hook(lambda o: calls.append("post"))
    opt.load_state_dict(opt.state_dict())
    print("bnb load_state_dict hooks called:", calls, "(torch: ['pre', 'post'])")


if __name__ == "__main__":
    for name in sys.argv[1:] or ["bitsandbytes", "torchopt", "deepspeed"]:
        globals()[name]()
