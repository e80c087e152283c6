"""Confirm, without the suite, each cause of the failures ``adagrad-conformance check
deepspeed.ops.adagrad:DeepSpeedCPUAdagrad`` reports: plain torch and DeepSpeed (0.19.x, its
CPU op, JIT-built on first use) on the same inputs, one line per cause:

    CAUSE: torch gives X, deepspeed gives Y

    .venv/bin/python tools/confirm_third_party/deepspeed.py [CAUSE ...]

Each function's docstring names the suite's failing tests it explains. float64 and complex
parameters are outside the shipped spec's claims (DeepSpeed raises for them after changing its
state), so nothing here is about them.
"""

from __future__ import annotations

import _common
from _common import grad_after_step, half_accumulators, kind, outcome, trajectory

_common.library_first(__file__)

import torch  # noqa: E402
from deepspeed.ops.adagrad import DeepSpeedCPUAdagrad  # noqa: E402

LIB = "deepspeed"


def say(cause: str, torch_gives: object, lib_gives: object) -> None:
    _common.say(cause, torch_gives, LIB, lib_gives)


def grad_overwritten() -> None:
    """grad-readonly test_dense_grad_unchanged[defaults, weight_decay]: the C++ step writes
    -lr * update into p.grad (``grads[k] = grad * step_size``)."""
    say("p.grad after a step", *(grad_after_step(f) for f in (torch.optim.Adagrad, DeepSpeedCPUAdagrad)))


def strided_param_not_updated() -> None:
    """layouts test_layout[*-transposed-*, *-sliced-*] (non-contiguous params, float32): the C++
    op updates ``params.contiguous()`` and ``exp_avg_sq.contiguous()``, copies when the param
    (and so its accumulator, made by zeros_like) is not contiguous: neither changes, only the step
    advances (non-contiguous gradients are fine: they are only read)."""
    out = []
    for factory in (torch.optim.Adagrad, DeepSpeedCPUAdagrad):
        p = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).t().contiguous().t().requires_grad_()
        opt = factory([p], lr=0.1)
        p.grad = torch.ones(2, 3)
        opt.step()
        state = opt.state[p]
        total = state.get("sum", state.get("exp_avg_sq"))
        out.append(f"param {p.detach().tolist()}, accumulator {total.tolist()}, step {float(state['step']):g}")
    say("a transposed param [[1,2,3],[4,5,6]], gradient all ones, one step", *out)


def group_hyperparameters_ignored() -> None:
    """lr-schedule test_edit_takes_effect_next_step[lr_decay-float32, maximize-float32]: the
    constructor has no lr_decay or maximize, but param_groups accept the keys, and the step
    ignores them."""
    grads = [(0.5, 0.25), (0.5, 0.25)]
    parts = []
    for key, value in (("lr_decay", 0.5), ("maximize", True)):
        ref = trajectory(torch.optim.Adagrad, grads, torch.float32, group={key: value}, lr=0.1)
        lib = trajectory(DeepSpeedCPUAdagrad, grads, torch.float32, group={key: value}, lr=0.1)
        plain = trajectory(DeepSpeedCPUAdagrad, grads, torch.float32, lr=0.1)
        refused = kind(
            lambda key=key, value=value: DeepSpeedCPUAdagrad([torch.ones(1, requires_grad=True)], **{key: value})
        )
        parts.append(
            f"{key}={value}: torch {ref.tolist()} vs deepspeed {lib.tolist()} (= without it: "
            f"{torch.equal(lib, plain)}; as a constructor keyword: {refused})"
        )
    say("a param group's own lr_decay / maximize, 2 steps", "the group's value", "; ".join(parts))


def half_param_float32_state() -> None:
    """numerics test_long_low_precision_run[float16, bfloat16] (R30: the accumulator in the
    param's dtype): exp_avg_sq is float32 (fp32_optimizer_states=True, the default); the values
    are as precise as torch's or more."""

    def accumulator(opt, p):
        state = opt.state[p]
        return state.get("sum", state.get("exp_avg_sq"))

    say(
        "half-precision params",
        *(half_accumulators(f, accumulator) for f in (torch.optim.Adagrad, DeepSpeedCPUAdagrad)),
    )


def uncoalesced_sparse_refused() -> None:
    """sparse test_sparse_matches_oracle[float32-drawn]: a sparse gradient with repeated indices
    (uncoalesced, as embedding backward makes) raises; torch sums the duplicates."""
    out = []
    for factory in (torch.optim.Adagrad, DeepSpeedCPUAdagrad):
        p = torch.ones(4, 2, requires_grad=True)
        opt = factory([p], lr=0.1)
        p.grad = torch.sparse_coo_tensor([[0, 0, 3]], torch.ones(3, 2), (4, 2))

        def step(opt=opt, p=p):
            opt.step()
            return [p.detach()[0].tolist(), p.detach()[3].tolist()]

        out.append(outcome(step))
    say("sparse gradient with row 0 twice", *out)


def multi_element_lr_tensor() -> None:
    """tensor-lr test_tensor_lr_must_have_one_element[*], validation test_constructor_rejects[lr-tensor]:
    the C++ op's create_adagrad() rejects a tensor lr with TypeError, not torch's ValueError."""
    lr = torch.tensor([0.1, 0.2])
    say(
        "lr=torch.tensor([0.1, 0.2])",
        outcome(lambda: torch.optim.Adagrad([torch.ones(2, requires_grad=True)], lr=lr)),
        outcome(lambda: DeepSpeedCPUAdagrad([torch.ones(2, requires_grad=True)], lr=lr), width=60),
    )


def no_validation() -> None:
    """validation test_constructor_rejects[lr-*, weight_decay-*, eps-*] (negative, nan, -inf)."""
    bad = {
        f"{key}={value}": {key: value}
        for key in ("lr", "weight_decay", "eps")
        for value in (-1.0, float("nan"), float("-inf"))
    }

    def short(factory):
        return {k: kind(lambda h=h: factory([torch.ones(2, requires_grad=True)], **h)) for k, h in bad.items()}

    say("constructor with invalid values", short(torch.optim.Adagrad), short(DeepSpeedCPUAdagrad))


def lazy_state() -> None:
    """state-dict test_api.py::test_state_is_eager (R14): no state before a param's first step."""
    p = torch.ones(2, requires_grad=True)
    say("state after construction", dict(torch.optim.Adagrad([p]).state), dict(DeepSpeedCPUAdagrad([p]).state))


CAUSES = [
    grad_overwritten,
    strided_param_not_updated,
    group_hyperparameters_ignored,
    half_param_float32_state,
    uncoalesced_sparse_refused,
    multi_element_lr_tensor,
    no_validation,
    lazy_state,
]

if __name__ == "__main__":
    _common.main(CAUSES)
