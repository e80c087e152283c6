"""Confirm, without the suite, each cause of the failures ``adagrad-conformance check
bitsandbytes.optim:Adagrad`` (``Adagrad32bit``, ``Adagrad8bit``) reports: plain torch and
bitsandbytes (0.50.x, CPU kernels) on the same inputs, one line per cause:

    CAUSE: torch gives X, bitsandbytes gives Y

    .venv/bin/python tools/confirm_third_party/bitsandbytes.py [CAUSE ...]

Each function's docstring names the suite's failing tests it explains. The 8-bit state is
dequantized with bitsandbytes' own ``dequantize_blockwise``.
"""

from __future__ import annotations

import copy

import _common
from _common import half_accumulators, kind, outcome, sparse_step, trajectory, ulps

_common.library_first(__file__)

import bitsandbytes as bnb  # noqa: E402
import bitsandbytes.functional as bnbf  # noqa: E402
import torch  # noqa: E402

LIB = "bitsandbytes"


def say(cause: str, torch_gives: object, lib_gives: object) -> None:
    _common.say(cause, torch_gives, LIB, lib_gives)


def accumulator(opt: torch.optim.Optimizer, p: torch.Tensor) -> torch.Tensor:
    """torch's ``sum`` or bitsandbytes' ``state1`` (dequantized where it holds 8-bit codes)."""
    state = opt.state[p]
    if "sum" in state:
        return state["sum"]
    s = state["state1"]
    if s.dtype != torch.uint8:
        return s
    return bnbf.dequantize_blockwise(s, absmax=state["absmax1"], code=state["qmap1"], blocksize=256)


def run(factory, n: int, dtype=torch.float32, steps: int = 2, **hyper):
    """(param, accumulator, state1 dtype) after ``steps`` steps on ``n`` elements (seeded)."""
    gen = torch.Generator().manual_seed(0)
    p = (torch.rand(n, generator=gen, dtype=torch.float64) * 4 - 2).to(dtype).requires_grad_()
    opt = factory([p], lr=0.1, **hyper)
    for _ in range(steps):  # magnitudes from 1e-3 to 2, as gradients within one tensor spread
        size = torch.exp(torch.empty(n, dtype=torch.float64).uniform_(-6.9, 0.69, generator=gen))
        sign = torch.randint(0, 2, (n,), generator=gen, dtype=torch.float64) * 2 - 1
        p.grad = (size * sign).to(dtype)
        opt.step()
    state = opt.state[p]
    return p.detach(), accumulator(opt, p), state.get("state1", state.get("sum")).dtype


def quantized_state_8bit() -> None:
    """shapes test_shape[4097-float32], test_shape[70x65-float32], test_large_tensors (Adagrad8bit
    only): from min_8bit_size = 4,096 elements the accumulator is a uint8 code per element,
    scaled per block of 256; below, and in Adagrad/Adagrad32bit, it is float32."""
    for n in (4095, 4096, 65537):
        ref_p, ref_s, _ = run(torch.optim.Adagrad, n)
        parts = []
        for name, factory in (("8-bit", bnb.optim.Adagrad8bit), ("32-bit", bnb.optim.Adagrad32bit)):
            p, s, dtype = run(factory, n)
            rel = float(((s - ref_s).abs() / ref_s.abs()).max())
            err = float((p - ref_p).abs().max())
            parts.append(
                f"{name}: state1 {dtype}, |sum - torch's| up to {rel:.3g} x torch's, |param - torch's| up to {err:.2g}"
            )
        say(f"2 steps on {n} float32 elements (|gradients| 1e-3 to 2)", "a float32 sum", "; ".join(parts))


def float64_computed_in_float32() -> None:
    """numerics-float64 (all), hyperparameters/golden/layouts/shapes/lr-schedule/missing-grads/
    non-finite/tensor-lr/state-dict/groups cases in float64 (test_zero_grad_is_not_skipped,
    test_subnormal_range[float64] included): the CPU kernel computes p.float() and copies back,
    and state1 is float32, so a float64 param is updated (even by a zero gradient) in float32."""
    grads = [(0.3, -0.7)]
    init = (1.0, -1.3)
    ref = trajectory(torch.optim.Adagrad, grads, torch.float64, init, lr=0.1)
    lib = trajectory(bnb.optim.Adagrad, grads, torch.float64, init, lr=0.1)
    in32 = trajectory(torch.optim.Adagrad, grads, torch.float32, init, lr=0.1)
    zero = trajectory(bnb.optim.Adagrad, [(0.0, 0.0)], torch.float64, (0.1, -1.3), lr=0.1)  # 0.1: not a float32
    say(
        "float64 param, one step",
        f"{ref.tolist()}",
        f"{lib.tolist()} (= torch in float32: {torch.equal(lib, in32.double())}; {ulps(lib, ref):.3g} float64 ulps off); "
        f"a zero-gradient step moves 0.1 to {zero[0].item()!r}",
    )


def half_param_float32_state() -> None:
    """numerics test_long_low_precision_run[float16, bfloat16] (R30: the accumulator in the param's
    dtype): state1 is float32 whatever the param's dtype (more precise than torch's, not less)."""
    say("half-precision params", *(half_accumulators(f, accumulator) for f in (torch.optim.Adagrad, bnb.optim.Adagrad)))


def complex_imaginary_dropped() -> None:
    """complex test_complex_teacher_forced[complex64, complex128], golden complex-*: g.float() and
    p.float() drop the imaginary part, and it is written back as 0."""
    out = []
    for factory in (torch.optim.Adagrad, bnb.optim.Adagrad):
        p = torch.tensor([1 + 2j, -1 + 0.5j], dtype=torch.complex64, requires_grad=True)
        opt = factory([p], lr=0.1)
        p.grad = torch.tensor([0.5 - 1j, 1j], dtype=torch.complex64)
        opt.step()
        out.append([complex(round(z.real, 4), round(z.imag, 4)) for z in p.detach().tolist()])
    say("complex64 param, one step", *out)


def group_hyperparameters_ignored() -> None:
    """groups test_per_group_initial_accumulator_value, test_add_param_group_mid_run (the added
    group's own tau/lr_decay); golden groups-per-group-tau-*, hyperparameter-changes-*;
    lr-schedule test_edit_takes_effect_next_step[lr_decay-*, maximize-*]: the constructor refuses
    lr_decay/initial_accumulator_value != 0 and maximize, but a param group (or an edit of
    param_groups) may set them: they are accepted and silently ignored."""
    grads = [(0.5, 0.25), (0.5, 0.25)]
    parts = []
    for key, value in (("initial_accumulator_value", 1.0), ("lr_decay", 0.5), ("maximize", True)):
        ref = trajectory(torch.optim.Adagrad, grads, torch.float32, group={key: value}, lr=0.1)
        lib = trajectory(bnb.optim.Adagrad, grads, torch.float32, group={key: value}, lr=0.1)
        plain = trajectory(bnb.optim.Adagrad, grads, torch.float32, lr=0.1)
        refused = kind(
            lambda key=key, value=value: bnb.optim.Adagrad([torch.ones(1, requires_grad=True)], **{key: value})
        )
        parts.append(
            f"{key}={value}: torch {ref.tolist()} vs bnb {lib.tolist()} (= without it: {torch.equal(lib, plain)}; "
            f"as a constructor keyword: {refused})"
        )
    say("a param group's own hyperparameter, 2 steps", "the group's value", "; ".join(parts))


def load_state_dict_hooks_skipped() -> None:
    """hooks test_load_state_dict_hooks_order_prepend_and_returns, test_state_dict_hook_handles_remove:
    bitsandbytes overrides load_state_dict without calling the registered hooks."""
    out = []
    for factory in (torch.optim.Adagrad, bnb.optim.Adagrad):
        p = torch.ones(2, requires_grad=True)
        opt = factory([p], lr=0.1)
        calls: list[str] = []
        opt.register_load_state_dict_pre_hook(lambda o, sd, calls=calls: calls.append("pre"))
        opt.register_load_state_dict_post_hook(lambda o, calls=calls: calls.append("post"))
        opt.load_state_dict(copy.deepcopy(opt.state_dict()))
        out.append(f"hooks called {calls}")
    say("load_state_dict with a pre and a post hook", *out)


def param_relaid() -> None:
    """layouts test_layout[*-transposed-*, *-sliced-*] (the non-contiguous params): update_step
    runs p.data = p.data.contiguous(), so the param gets new storage and strides (views of the old
    storage no longer see the updates)."""
    out = []
    for factory in (torch.optim.Adagrad, bnb.optim.Adagrad):
        base = torch.zeros(4, 3)
        p = base.t().requires_grad_()  # a view of base, strides (1, 3)
        strides = p.stride()
        opt = factory([p], lr=0.1)
        p.grad = torch.ones(3, 4)
        opt.step()
        out.append(f"strides {strides} -> {p.stride()}, the viewed buffer updated: {bool((base != 0).any())}")
    say("a transposed (non-contiguous) param, one step", *out)


def sparse_crashes() -> None:
    """sparse test_sparse_matches_oracle[*], golden sparse-*: update_step calls grad.contiguous(),
    which a sparse COO tensor does not support (the message does not name sparse gradients)."""
    say("sparse gradient", *(sparse_step(f) for f in (torch.optim.Adagrad, bnb.optim.Adagrad)))


def multi_element_lr_tensor() -> None:
    """tensor-lr test_tensor_lr_must_have_one_element[*], validation test_constructor_rejects[lr-tensor]:
    ``lr < 0`` on a 2-element tensor raises RuntimeError, not torch's ValueError."""
    lr = torch.tensor([0.1, 0.2])
    say(
        "lr=torch.tensor([0.1, 0.2])",
        outcome(lambda: torch.optim.Adagrad([torch.ones(2, requires_grad=True)], lr=lr)),
        outcome(lambda: bnb.optim.Adagrad([torch.ones(2, requires_grad=True)], lr=lr)),
    )


def lazy_state() -> None:
    """state-dict test_api.py::test_state_is_eager (R14): no state before a param's first step."""
    p = torch.ones(2, requires_grad=True)
    say(
        "state after construction",
        dict(torch.optim.Adagrad([p]).state),
        dict(bnb.optim.Adagrad([p]).state),
    )


def torch_checkpoint_interchange() -> None:
    """state-dict test_handover_matches_uninterrupted_run[torch-to-target, target-to-torch]: the
    groups of bitsandbytes' state_dict have betas and no lr_decay/initial_accumulator_value/maximize,
    its state is {step: int, state1 (wrapped)}: neither loads into the other."""
    p = torch.ones(2, requires_grad=True)
    t, b = torch.optim.Adagrad([p], lr=0.1), bnb.optim.Adagrad([p], lr=0.1)
    for opt in (t, b):
        p.grad = torch.ones(2)
        opt.step()

    def load_and_step(dst, src):
        dst.load_state_dict(copy.deepcopy(src.state_dict()))
        p.grad = torch.ones(2)
        dst.step()

    fresh_t, fresh_b = torch.optim.Adagrad([p], lr=0.1), bnb.optim.Adagrad([p], lr=0.1)
    say(
        "a state_dict of the other library, loaded and stepped",
        f"(bitsandbytes' loaded into torch) {outcome(lambda: load_and_step(fresh_t, b))}",
        f"(torch's loaded into bitsandbytes) {outcome(lambda: load_and_step(fresh_b, t))}",
    )


CAUSES = [
    quantized_state_8bit,
    float64_computed_in_float32,
    half_param_float32_state,
    complex_imaginary_dropped,
    group_hyperparameters_ignored,
    load_state_dict_hooks_skipped,
    param_relaid,
    sparse_crashes,
    multi_element_lr_tensor,
    lazy_state,
    torch_checkpoint_interchange,
]

if __name__ == "__main__":
    _common.main(CAUSES)
