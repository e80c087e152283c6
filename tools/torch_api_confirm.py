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
    print(
        "bnb float64: state1 dtype",
        o.state[o.param_groups[0]["params"][0]]["state1"].dtype,
        "| max |bnb - torch| =",
        float((lib - ref).abs().max()),
        "| bnb float64 == bnb float32 result:",
        torch.equal(lib.float(), as32),
    )
    for n in (4095, 4096, 65537):
        (p8, o8), (pt, ot) = pair(bnb.optim.Adagrad8bit, torch.float32, n=n, lr=0.1)
        p32 = pair(bnb.optim.Adagrad32bit, torch.float32, n=n, lr=0.1)[0][0]
        e = o8.state[o8.param_groups[0]["params"][0]]
        from adagrad.conformance.adapters.bitsandbytes_adagrad import dequantize

        s8, st = dequantize(e), ot.state[ot.param_groups[0]["params"][0]]["sum"]
        print(
            f"bnb 8-bit, {n} elements: state1 {e['state1'].dtype}, max relative error of the sum "
            f"{float(((s8 - st).abs() / st.abs().clamp_min(1e-30)).max()):.3g}; max |param - torch's| 8-bit "
            f"{float((p8 - pt).abs().max()):.3g}, 32-bit {float((p32 - pt).abs().max()):.3g}"
        )
    p = torch.ones(2, requires_grad=True)
    print(
        "bnb state after construction:",
        dict(bnb.optim.Adagrad([p], lr=0.1).state),
        "(torch:",
        dict(torch.optim.Adagrad([p], lr=0.1).state),
        ")",
    )
    for key, value in (("lr_decay", 0.5), ("maximize", True), ("initial_accumulator_value", 1.0)):
        (lib, _), (ref, _) = pair(bnb.optim.Adagrad, torch.float32, steps=2, group={key: value}, lr=0.1)
        plain = pair(bnb.optim.Adagrad, torch.float32, steps=2, lr=0.1)[0][0]
        print(
            f"bnb group {{{key!r}: {value}}} accepted; result == without it: {torch.equal(lib, plain)}; == torch's: {torch.equal(lib, ref)}"
        )
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
    p = torch.ones(4, 3).t().requires_grad_()  # non-contiguous
    strides = p.stride()
    opt = bnb.optim.Adagrad([p], lr=0.1)
    p.grad = torch.ones(3, 4)
    opt.step()
    print("bnb non-contiguous param: strides", strides, "->", p.stride(), "(torch keeps them)")
    p = torch.ones(4, 2, requires_grad=True)
    opt = bnb.optim.Adagrad([p], lr=0.1)
    p.grad = torch.sparse_coo_tensor([[0, 0, 3]], torch.ones(3, 2), (4, 2))
    try:
        opt.step()
    except Exception as exc:  # noqa: BLE001
        print(f"bnb sparse gradient: {type(exc).__name__}: {exc} (torch computes it)")
    for bad in (dict(lr=torch.tensor([0.1, 0.2])), dict(lr_decay=-1.0)):
        try:
            bnb.optim.Adagrad([torch.ones(2, requires_grad=True)], **bad)
        except Exception as exc:  # noqa: BLE001
            print(f"bnb {bad}: {type(exc).__name__}: {exc}")


def _grad_kept(make, **hyper) -> bool:
    p = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    g = torch.tensor([0.5, 0.25, -1.0])
    p.grad = g.clone()
    make([p], lr=0.1, **hyper).step()
    return torch.equal(p.grad, g)


def torchopt() -> None:
    import torchopt as to

    (lib, _), (ref, _) = pair(to.Adagrad, torch.float64, steps=2, lr=0.1, lr_decay=0.1)
    print(
        "torchopt float64 lr_decay 0.1, 2 steps: max relative difference from torch",
        float(((lib - ref) / ref).abs().max()),
        "(float64 rounding is ~1e-16)",
    )
    print("torchopt leaves p.grad unchanged:", _grad_kept(to.Adagrad), "(torch: True)")
    for g, eps in ((float("nan"), 1e-10), (0.0, 0.0)):
        for factory in (to.Adagrad, torch.optim.Adagrad):
            p = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
            opt = factory([p], lr=0.1, eps=eps)
            p.grad = torch.tensor([g], dtype=torch.float64)
            opt.step()
            print(f"  gradient {g}, eps {eps}: {factory.__module__}.{factory.__name__} -> {p.item()}")
    p = torch.ones(2, requires_grad=True)
    opt = to.Adagrad([p], lr=0.1)
    print(
        "torchopt param_groups[0]:",
        type(opt.param_groups[0]).__name__,
        "| state_dict():",
        opt.state_dict(),
        "| has register_step_pre_hook:",
        hasattr(opt, "register_step_pre_hook"),
    )
    p.grad = torch.ones(2)
    opt.zero_grad()
    print("torchopt zero_grad() leaves grad", p.grad, "(torch: None)")
    saved = opt.state_dict()
    other = to.Adagrad([p], lr=0.9)
    other.load_state_dict(saved)
    p.grad = torch.ones(2)
    before = p.detach().clone()
    other.step()
    print(
        "torchopt after load_state_dict of an lr=0.1 optimizer, the step uses lr",
        float((before - p.detach())[0]) * 1.0,
        "-> (1/sqrt(1)) * lr: the loaded optimizer keeps its own lr 0.9",
    )
    for make_grad, what in ((lambda: torch.sparse_coo_tensor([[0]], torch.ones(1), (2,)), "sparse gradient"),):
        q = torch.ones(2, requires_grad=True)
        o = to.Adagrad([q], lr=0.1)
        q.grad = make_grad()
        try:
            o.step()
        except Exception as exc:  # noqa: BLE001
            print(f"torchopt {what}: {type(exc).__name__}: {str(exc)[:90]}")


def deepspeed() -> None:
    from deepspeed.ops.adagrad import DeepSpeedCPUAdagrad as DS

    print("deepspeed leaves p.grad unchanged:", _grad_kept(DS), "(torch: True)")
    (lib, _), (ref, _) = pair(DS, torch.float32, n=6, lr=0.1)
    print("deepspeed float32, contiguous: max relative difference from torch", float(((lib - ref) / ref).abs().max()))
    for factory in (DS, torch.optim.Adagrad):
        base = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        p = base.t().contiguous().t().requires_grad_()  # transposed layout, same values
        opt = factory([p], lr=0.1)
        p.grad = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
        opt.step()
        print(f"  transposed param, gradient only at [0,0]: {factory.__name__} -> {p.detach().tolist()}")
    p = torch.ones(4, 2, requires_grad=True)
    opt = DS([p], lr=0.1)
    p.grad = torch.sparse_coo_tensor([[0, 0, 3]], torch.ones(3, 2), (4, 2))
    try:
        opt.step()
    except Exception as exc:  # noqa: BLE001
        print(f"deepspeed uncoalesced sparse gradient: {type(exc).__name__}: {exc}")
    print("deepspeed accepts lr=-1:", DS([torch.ones(2, requires_grad=True)], lr=-1.0).param_groups[0]["lr"])
    p = torch.ones(2, dtype=torch.float64, requires_grad=True)
    opt = DS([p], lr=0.1)
    p.grad = torch.ones(2, dtype=torch.float64)
    try:
        opt.step()
    except RuntimeError as exc:
        print(f"deepspeed float64: RuntimeError: {exc}; state afterwards: {dict(opt.state[p])}")
    results = {}
    for factory in (DS, torch.optim.Adagrad):
        for edit in (False, True):
            p = torch.tensor([1.0, -1.0], requires_grad=True)
            opt = factory([p], lr=0.1)
            for k in range(2):
                if edit and k == 1:
                    opt.param_groups[0]["lr_decay"] = 0.5
                p.grad = torch.tensor([0.5, 0.25])
                opt.step()
            results[(factory.__name__, edit)] = p.detach().clone()
    print(
        "param_groups[0]['lr_decay'] = 0.5 before step 2 changes the result: deepspeed",
        not torch.equal(results[("DeepSpeedCPUAdagrad", False)], results[("DeepSpeedCPUAdagrad", True)]),
        "| torch",
        not torch.equal(results[("Adagrad", False)], results[("Adagrad", True)]),
    )


if __name__ == "__main__":
    for name in sys.argv[1:] or ["bitsandbytes", "torchopt", "deepspeed"]:
        globals()[name]()
