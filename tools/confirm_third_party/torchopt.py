"""Confirm, without the suite, each cause of the failures ``adagrad-conformance check torchopt:Adagrad``
reports: plain torch and torchopt (0.7.x) on the same inputs, one line per cause:

    CAUSE: torch gives X, torchopt gives Y

    .venv/bin/python tools/confirm_third_party/torchopt.py [CAUSE ...]

Each function's docstring names the suite's failing tests it explains.
"""

from __future__ import annotations

import copy
import io
import pickle

import _common
from _common import grad_after_step, kind, outcome, sparse_step, trajectory

_common.library_first(__file__)

import torch  # noqa: E402
import torchopt  # noqa: E402

LIB = "torchopt"


def say(cause: str, torch_gives: object, lib_gives: object) -> None:
    _common.say(cause, torch_gives, LIB, lib_gives)


def _sum(opt) -> torch.Tensor:
    """torchopt's accumulator of the first param (``ScaleByRssState.sum_of_squares`` in its chain state)."""
    return next(s.sum_of_squares for s in opt.state_groups[0] if hasattr(s, "sum_of_squares"))[0]


def lr_decay_in_float32() -> None:
    """golden hyper-float64-ld1-*, large-float64-4101, long-float64-60steps, missing-grads-float64;
    hyperparameters test_flag_combination[decay1-*], test_zero_gradient (drawn lr_decay);
    state-dict test_hyperparameter_restored[lr_decay]: the decay factor 1/(1 + lr_decay*count) is
    computed from an int64 count tensor and a Python float, so in float32, for float64 params."""
    grads = [(0.5, 0.25), (0.5, 0.25)]
    ref = trajectory(torch.optim.Adagrad, grads, lr=1.0, lr_decay=0.5)
    lib = trajectory(torchopt.Adagrad, grads, lr=1.0, lr_decay=0.5)
    factor = 1 / (1 + 0.5 * torch.ones((), dtype=torch.int64))
    say(
        "lr_decay factor in float32 (float64 param, lr_decay=0.5, step 2)",
        f"{ref[0].item()!r}",
        f"{lib[0].item()!r} (relative difference {abs((lib[0] - ref[0]) / ref[0]).item():.1e}; "
        f"its factor 1/(1+0.5*count) is a {factor.dtype} tensor)",
    )


def grad_overwritten() -> None:
    """grad-readonly test_dense_grad_unchanged[*]: the step writes the update into p.grad."""
    say("p.grad after a step", *(grad_after_step(f) for f in (torch.optim.Adagrad, torchopt.Adagrad)))


def expanded_grad_refused() -> None:
    """layouts test_layout[*-expanded-*]: a gradient with a stride-0 (expanded) layout, which the
    step writes into (grad_overwritten), raises."""
    out = []
    for factory in (torch.optim.Adagrad, torchopt.Adagrad):
        p = torch.zeros(3, 2, requires_grad=True)
        opt = factory([p], lr=0.1)
        p.grad = torch.tensor([[0.5, -1.0]]).expand(3, 2)

        def step(opt=opt, p=p):
            opt.step()
            return p.detach()[0].tolist()

        out.append(outcome(step))
    say("expanded (stride 0) gradient", *out)


def nan_masked() -> None:
    """non-finite test_non_finite_gradient_propagates[nan-*], golden nonfinite-grads-*: the
    update is torch.where(sum > 0, g / (sqrt(sum) + eps), 0), and NaN > 0 is False."""
    grads = [(float("nan"), 0.5)]
    say(
        "NaN gradient",
        trajectory(torch.optim.Adagrad, grads, lr=0.1).tolist(),
        trajectory(torchopt.Adagrad, grads, lr=0.1).tolist(),
    )


def zero_over_zero_masked() -> None:
    """golden zero-grad-eps_zero-*: eps=0, zero sum, zero gradient is 0/0 = NaN in torch; the
    same torch.where gives 0."""
    grads = [(0.0, 0.5)]
    say(
        "eps=0, zero gradient on a zero sum",
        trajectory(torch.optim.Adagrad, grads, lr=0.1, eps=0.0).tolist(),
        trajectory(torchopt.Adagrad, grads, lr=0.1, eps=0.0).tolist(),
    )


def complex_params() -> None:
    """complex test_complex_teacher_forced[complex128, complex64]: ``sum > 0`` is not defined for
    complex; in a stepped (or loaded) optimizer it raises after the accumulator was updated in place."""
    for dtype in (torch.complex128, torch.complex64):
        p = torch.tensor([1 + 2j], dtype=dtype, requires_grad=True)
        ref = torch.optim.Adagrad([p], lr=0.1)
        for _ in range(2):
            p.grad = torch.tensor([0.5 - 1j], dtype=dtype)
            ref.step()
        q = torch.tensor([1 + 2j], dtype=dtype, requires_grad=True)
        opt = torchopt.Adagrad([q], lr=0.1)
        opt.state_groups[0] = opt.impl.init(opt.param_groups[0])  # as a loaded checkpoint holds it
        before = _sum(opt).clone()
        q.grad = torch.tensor([0.5 - 1j], dtype=dtype)
        error = outcome(opt.step)
        after = _sum(opt)
        say(
            f"{str(dtype).removeprefix('torch.')} param",
            f"param {p.detach().tolist()} after 2 steps",
            f"{error}; its accumulator changed from {before.tolist()} to {after.tolist()} before it raised",
        )


def sparse_unsupported() -> None:
    """sparse test_sparse_matches_oracle[*], golden sparse-*, grad-readonly
    test_sparse_grad_unchanged: a sparse COO gradient crashes the step."""
    say("sparse gradient", *(sparse_step(f) for f in (torch.optim.Adagrad, torchopt.Adagrad)))


def group_dicts_unsupported() -> None:
    """groups test_groups_own_hyperparameters, test_per_group_initial_accumulator_value,
    test_add_param_group_mid_run; golden groups-*, hyperparameter-changes-*; zero-grad
    test_zero_grad_after_add_param_group: a param group dict with hyperparameters is flattened
    as a pytree, so the hyperparameter values become "parameters"."""
    out = []
    for factory in (torch.optim.Adagrad, torchopt.Adagrad):
        p, q = torch.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)
        opt = factory([{"params": [p], "lr": 0.5}, {"params": [q]}], lr=0.1)
        p.grad, q.grad = torch.ones(2), torch.ones(2)

        def step(opt=opt, p=p, q=q):
            opt.step()
            return [p.detach()[0].item(), q.detach()[0].item()]

        out.append(outcome(step))
    say("param groups with their own lr", *out)


def param_groups_not_dicts() -> None:
    """lr-schedule test_edit_takes_effect_next_step[*], tensor-lr test_tensor_lr_matches_oracle
    (it replaces the lr tensor mid-run), groups test_add_param_group_fills_defaults, state-dict
    test_every_group_key_round_trips, test_hyperparameter_restored[initial_accumulator_value]:
    param_groups is a list of tuples of tensors; no hyperparameter can be read or set."""
    out = []
    for factory in (torch.optim.Adagrad, torchopt.Adagrad):
        opt = factory([torch.ones(2, requires_grad=True)], lr=0.1)

        def edit(opt=opt):
            opt.param_groups[0]["lr"] = 0.01
            return f"lr now {opt.param_groups[0]['lr']}"

        out.append(f"{type(opt.param_groups[0]).__name__} group; param_groups[0]['lr'] = 0.01: {outcome(edit)}")
    say("editing a hyperparameter mid-run (what LR schedulers do)", *out)


def no_hooks() -> None:
    """hooks (all 9 tests): no register_step_pre_hook, register_step_post_hook,
    register_state_dict_pre_hook, ... (not a torch.optim.Optimizer)."""
    names = [
        "register_step_pre_hook",
        "register_step_post_hook",
        "register_state_dict_pre_hook",
        "register_load_state_dict_post_hook",
    ]
    p = torch.ones(2, requires_grad=True)
    say(
        "hook registration methods",
        [hasattr(torch.optim.Adagrad([p]), n) for n in names],
        f"{[hasattr(torchopt.Adagrad([p]), n) for n in names]} (a torch.optim.Optimizer: "
        f"{isinstance(torchopt.Adagrad([p]), torch.optim.Optimizer)})",
    )


def zero_grad_keeps_tensor() -> None:
    """zero-grad test_zero_grad_sets_none_by_default: zero_grad() defaults to set_to_none=False
    (torch >= 2.0: True)."""
    out = []
    for factory in (torch.optim.Adagrad, torchopt.Adagrad):
        p = torch.ones(2, requires_grad=True)
        opt = factory([p])
        p.grad = torch.ones(2)
        opt.zero_grad()
        out.append(f"p.grad {p.grad}")
    say("zero_grad()", *out)


def lazy_state() -> None:
    """state-dict test_api.py::test_state_is_eager (R14): no state before the first step."""
    p = torch.ones(2, requires_grad=True)
    say(
        "state after construction",
        f"{dict(torch.optim.Adagrad([p]).state_dict()['state'])}",
        f"{torchopt.Adagrad([p]).state_dict()}",
    )


def hyperparameters_not_restored() -> None:
    """state-dict test_hyperparameter_restored[lr, weight_decay, eps], test_resume_equals_uninterrupted,
    test_handover_matches_uninterrupted_run[target-to-target] (the second optimizer is constructed
    with lr=0.9): the state_dict holds no hyperparameters, so load_state_dict keeps the loading
    optimizer's own (the same run resumed with the saved lr matches: not a state problem)."""
    out = []
    for factory in (torch.optim.Adagrad, torchopt.Adagrad):
        p = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
        saved = factory([p], lr=0.1)
        p.grad = torch.tensor([1.0], dtype=torch.float64)
        saved.step()
        other = factory([p], lr=0.9)
        other.load_state_dict(copy.deepcopy(saved.state_dict()))
        before = p.item()
        p.grad = torch.tensor([1.0], dtype=torch.float64)
        other.step()
        out.append(f"a next step of {before - p.item():.6f} (= lr/sqrt(2) with lr {(before - p.item()) * 2**0.5:.3g})")
    say("load_state_dict of an lr=0.1 optimizer into one built with lr=0.9", *out)


def maximize_state_incompatible() -> None:
    """state-dict test_hyperparameter_restored[maximize]: the state of an optimizer built with
    maximize=True does not load into one built without (another chain of transformations)."""
    out = []
    for factory in (torch.optim.Adagrad, torchopt.Adagrad):
        p = torch.tensor([1.0], requires_grad=True)
        saved = factory([p], lr=0.1, maximize=True)
        p.grad = torch.ones(1)
        saved.step()
        other = factory([p], lr=0.1)

        def resume(other=other, saved=saved, p=p):
            other.load_state_dict(copy.deepcopy(saved.state_dict()))
            p.grad = torch.ones(1)
            other.step()
            return p.item()

        out.append(outcome(resume))
    say("load a maximize=True state_dict, step", *out)


def torch_checkpoint_interchange() -> None:
    """state-dict test_handover_matches_uninterrupted_run[torch-to-target, target-to-torch]: a
    torchopt state_dict is a tuple of chain states, torch's a dict: neither loads into the other."""
    p = torch.ones(2, requires_grad=True)
    t, o = torch.optim.Adagrad([p], lr=0.1), torchopt.Adagrad([p], lr=0.1)
    for opt in (t, o):
        p.grad = torch.ones(2)
        opt.step()

    def load_and_step(dst, src):
        dst.load_state_dict(copy.deepcopy(src.state_dict()))
        p.grad = torch.ones(2)
        dst.step()

    say(
        "a state_dict of the other library, loaded and stepped",
        f"(torchopt's loaded into torch) {outcome(lambda: load_and_step(torch.optim.Adagrad([p], lr=0.1), o))}",
        f"(torch's loaded into torchopt) {outcome(lambda: load_and_step(torchopt.Adagrad([p], lr=0.1), t))}",
    )


def torch_load_weights_only_refuses() -> None:
    """state-dict test_state_dict_is_serialisable, lifecycle
    test_state_dict_through_torch_save_weights_only: the state_dict holds torchopt namedtuples,
    which torch.load(weights_only=True) (torch's default since 2.6) refuses."""
    out = []
    for factory in (torch.optim.Adagrad, torchopt.Adagrad):
        p = torch.ones(2, requires_grad=True)
        opt = factory([p], lr=0.1)
        p.grad = torch.ones(2)
        opt.step()
        buf = io.BytesIO()
        torch.save(opt.state_dict(), buf)
        buf.seek(0)
        out.append(outcome(lambda buf=buf: type(torch.load(buf, weights_only=True)).__name__))
    say("torch.load(weights_only=True) of a saved state_dict", *out)


def not_picklable() -> None:
    """lifecycle test_copied_optimizer_continues_the_run[pickle]: the optimizer holds local
    functions (chain_flat.<locals>.init_fn)."""
    out = []
    for factory in (torch.optim.Adagrad, torchopt.Adagrad):
        opt = factory([torch.ones(2, requires_grad=True)], lr=0.1)
        out.append(outcome(lambda opt=opt: f"{len(pickle.dumps(opt))} bytes"))
    say("pickle.dumps(optimizer)", *out)


def constructor_does_not_validate() -> None:
    """validation test_constructor_rejects[empty, non-leaf, tensor-not-iterable, duplicate-groups,
    lr-tensor]; tensor-lr test_tensor_lr_must_have_one_element[*]."""
    bad = {
        "empty": lambda f: f([]),
        "non-leaf": lambda f: f([torch.ones(2, requires_grad=True) * 2]),
        "tensor": lambda f: f(torch.ones(2, requires_grad=True)),
        "duplicate groups": lambda f: f([{"params": [q]}, {"params": [q]}]),
        "lr=tensor([0.1, 0.2])": lambda f: f([torch.ones(2, requires_grad=True)], lr=torch.tensor([0.1, 0.2])),
    }
    q = torch.ones(2, requires_grad=True)

    def short(factory):
        return {k: kind(lambda c=c: c(factory)) for k, c in bad.items()}

    say("constructor with bad params", short(torch.optim.Adagrad), short(torchopt.Adagrad))


def add_param_group_does_not_validate() -> None:
    """groups test_add_param_group_rejects_duplicates, test_add_param_group_rejects_non_dict."""
    out = []
    for factory in (torch.optim.Adagrad, torchopt.Adagrad):
        p = torch.ones(2, requires_grad=True)
        opt = factory([p])
        out.append(
            f"a param already in a group: {kind(lambda opt=opt, p=p: opt.add_param_group({'params': [p]}))}; "
            f"a bare tensor: {kind(lambda opt=opt: opt.add_param_group(torch.ones(2, requires_grad=True)))}"
        )
    say("add_param_group", *out)


def load_does_not_validate() -> None:
    """state-dict test_load_rejects_wrong_group_count, test_load_rejects_wrong_group_size."""
    out = []
    for factory in (torch.optim.Adagrad, torchopt.Adagrad):
        one = factory([torch.zeros(2, requires_grad=True)])
        two = factory([torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)])
        out.append(kind(lambda one=one, two=two: one.load_state_dict(two.state_dict())))
    say("load_state_dict of a group of 2 params into a group of 1", *out)


def loaded_sum_keeps_its_dtype() -> None:
    """(state-dict test_load_casts_sum_to_param_dtype fails first on lazy state; once the saved
    optimizer has stepped, this is what remains): a loaded float64 accumulator is not cast to a
    float32 param's dtype."""
    out = []
    for factory in (torch.optim.Adagrad, torchopt.Adagrad):
        src_p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        src = factory([src_p])
        src_p.grad = torch.ones(3, dtype=torch.float64)
        src.step()
        p = torch.zeros(3, requires_grad=True)
        dst = factory([p])
        dst.load_state_dict(copy.deepcopy(src.state_dict()))
        p.grad = torch.ones(3)
        dst.step()
        total = dst.state[p]["sum"] if factory is torch.optim.Adagrad else _sum(dst)
        out.append(f"a {total.dtype} sum")
    say("float64 state loaded for a float32 param, one step", *out)


CAUSES = [
    lr_decay_in_float32,
    grad_overwritten,
    expanded_grad_refused,
    nan_masked,
    zero_over_zero_masked,
    complex_params,
    sparse_unsupported,
    group_dicts_unsupported,
    param_groups_not_dicts,
    no_hooks,
    zero_grad_keeps_tensor,
    lazy_state,
    hyperparameters_not_restored,
    maximize_state_incompatible,
    torch_checkpoint_interchange,
    torch_load_weights_only_refuses,
    not_picklable,
    constructor_does_not_validate,
    add_param_group_does_not_validate,
    load_does_not_validate,
    loaded_sum_keeps_its_dtype,
]

if __name__ == "__main__":
    _common.main(CAUSES)
