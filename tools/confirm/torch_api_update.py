"""Confirm, outside the suite, the arithmetic the diagnosis names for three torch-API optimizers of
other libraries: torchopt's Adagrad, bitsandbytes' Adagrad (32-bit state) and DeepSpeed's
DeepSpeedCPUAdagrad. Plain torch against each library on the same inputs; one line per claim.

    .venv/bin/python tools/confirm/torch_api_update.py [torchopt] [bitsandbytes] [deepspeed]

(``tools/confirm_third_party/`` confirms each failing test of these libraries; this script only the
arithmetic behind the diagnosis lines of docs/compatibility.md.)
"""

from __future__ import annotations

import os
import sys
import warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("DS_BUILD_OPS", "0")

import numpy as np  # noqa: E402
import torch  # noqa: E402

P0 = [0.5, -1.25, 2.0, -0.125]
GRADS = [[0.3, -0.7, 1.1, 0.05], [-0.2, 0.4, 0.9, -0.6], [0.8, 0.1, -0.5, 0.25]]


def run(make, dtype=torch.float64, grads=GRADS, p0=P0, edit=None, group=None):
    """The parameters after the steps; ``edit(opt)`` after the first step, ``group`` in the param group."""
    p = torch.tensor(p0, dtype=dtype, requires_grad=True)
    opt = make([{"params": [p], **(group or {})}])
    for k, g in enumerate(grads):
        p.grad = torch.tensor(g, dtype=dtype)
        opt.step()
        if k == 0 and edit is not None:
            edit(opt)
    return p.detach().to(torch.float64).numpy()


def same(a, b) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


def torchopt_claims() -> None:
    import torchopt

    print(f"torchopt {torchopt.__version__}")
    lr, ld = 0.1, 0.5
    got = run(lambda ps: torchopt.Adagrad(ps, lr=lr, lr_decay=ld))
    ref = run(lambda ps: torch.optim.Adagrad(ps, lr=lr, lr_decay=ld))
    # torchopt's chain: u = g / (sqrt(s) + eps); u *= 1 / (1 + lr_decay * count) (a float32 tensor); p += -lr u
    p, s = np.array(P0), np.zeros(4)
    for t, g in enumerate(np.array(GRADS)):
        s = s + g * g
        factor = float(np.float32(1) / (np.float32(1) + np.float32(ld) * np.float32(t)))
        p = p + (g / (np.sqrt(s) + 1e-10) * factor) * -lr
    print(
        f"  float64, lr 0.1, lr_decay 0.5, 3 steps: torch's rule differs by {np.max(np.abs(got - ref) / np.abs(ref)):.2e}; "
        f"the decay factor 1 / (1 + 0.5 (t-1)) in float32 differs by {np.max(np.abs(got - p) / np.abs(p)):.2e}: "
        "decay factor in float32"
    )
    nan = [[float("nan"), 0.3, 0.3, 0.3]]
    got = run(lambda ps: torchopt.Adagrad(ps, lr=0.1), grads=nan)
    ref = run(lambda ps: torch.optim.Adagrad(ps, lr=0.1), grads=nan)
    print(f"  gradient NaN on element 0: torchopt leaves it at {float(got[0])!r}, torch gives {float(ref[0])!r}")
    zero = [[0.0, 0.3, 0.3, 0.3]]
    got = run(lambda ps: torchopt.Adagrad(ps, lr=0.1, eps=0.0), grads=zero)
    ref = run(lambda ps: torch.optim.Adagrad(ps, lr=0.1, eps=0.0), grads=zero)
    print(
        f"  eps 0, gradient 0 on element 0: torchopt leaves it at {float(got[0])!r}, torch gives {float(ref[0])!r} (0/0): "
        "update 0 unless the accumulator is positive"
    )


def bitsandbytes_claims() -> None:
    import bitsandbytes as bnb

    print(f"bitsandbytes {bnb.__version__} (Adagrad, 32-bit state)")
    got64 = run(lambda ps: bnb.optim.Adagrad(ps, lr=0.1))
    got32 = run(lambda ps: bnb.optim.Adagrad(ps, lr=0.1), dtype=torch.float32)
    ref64 = run(lambda ps: torch.optim.Adagrad(ps, lr=0.1))
    ref32 = run(lambda ps: torch.optim.Adagrad(ps, lr=0.1), dtype=torch.float32)
    print(
        f"  float64 params, 3 steps: result == its float32 result: {same(got64, got32)}; "
        f"values float32 numbers: {same(got64, got64.astype(np.float32))}; "
        f"torch float64 differs by {np.max(np.abs(got64 - ref64) / np.abs(ref64)):.2e}, torch float32 by "
        f"{np.max(np.abs(got64 - ref32) / np.abs(ref32)):.2e}: float32 arithmetic for float64 parameters"
    )
    plain = run(lambda ps: bnb.optim.Adagrad(ps, lr=0.1))
    torch_plain = run(lambda ps: torch.optim.Adagrad(ps, lr=0.1))
    for key, value, word in (
        ("lr_decay", 0.5, "lr_decay ignored"),
        ("maximize", True, "maximize ignored"),
        ("initial_accumulator_value", 1.0, "a group's own tau ignored (as torch does: D1)"),
    ):
        got = run(lambda ps: bnb.optim.Adagrad(ps, lr=0.1), group={key: value})
        ref = run(lambda ps: torch.optim.Adagrad(ps, lr=0.1), group={key: value})
        print(
            f"  param group {{'{key}': {value}}}: result == without it: {same(got, plain)} "
            f"(torch's: {same(ref, torch_plain)}): {word}"
        )


def deepspeed_claims() -> None:
    import deepspeed
    from deepspeed.ops.adagrad import DeepSpeedCPUAdagrad

    print(f"deepspeed {deepspeed.__version__} (DeepSpeedCPUAdagrad, float32)")
    make = lambda ps: DeepSpeedCPUAdagrad(ps, lr=0.1)  # noqa: E731
    plain = run(make, dtype=torch.float32)
    for key, value, word in (("lr_decay", 0.5, "lr_decay ignored"), ("maximize", True, "maximize ignored")):

        def edit(opt, key=key, value=value):
            opt.param_groups[0][key] = value

        got = run(make, dtype=torch.float32, edit=edit)

        def ref_make(ps):
            return torch.optim.Adagrad(ps, lr=0.1)

        ref = run(ref_make, dtype=torch.float32, edit=edit)
        print(
            f"  param_groups[0]['{key}'] = {value} after step 1: result == without it: {same(got, plain)}; "
            f"torch's == without it: {same(ref, run(ref_make, dtype=torch.float32))}: {word}"
        )


CLAIMS = {"torchopt": torchopt_claims, "bitsandbytes": bitsandbytes_claims, "deepspeed": deepspeed_claims}

if __name__ == "__main__":
    for name in [a for a in sys.argv[1:] if a in CLAIMS] or list(CLAIMS):
        CLAIMS[name]()
