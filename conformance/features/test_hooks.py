"""The six hook registrations (R19-R21) in depth: several hooks of each kind, their order,
``prepend``, arguments and return values passed along the chain, handles removed mid-run."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from adagrad.conformance.features import feature

pytestmark = feature("hooks")


def _opt(target):
    p = torch.ones(3, requires_grad=True)
    opt = target.make([p], lr=0.1)
    p.grad = torch.ones(3)
    return opt, p


@pytest.mark.spec("R19")
def test_step_hook_order_and_arguments(target):
    """Global pre-hooks, instance pre-hooks (registration order), the step, instance post-hooks,
    global post-hooks; two or three of each; pre-hooks see the param before, post-hooks after."""
    opt, p = _opt(target)
    calls = []

    def hook(name):
        return lambda o, args, kwargs: calls.append((name, o is opt, float(p.detach()[0]) == 1.0))

    handles = [
        register_optimizer_step_pre_hook(hook("global-pre-1")),
        register_optimizer_step_pre_hook(hook("global-pre-2")),
    ]
    handles += [opt.register_step_pre_hook(hook(f"pre-{i}")) for i in (1, 2, 3)]
    handles += [opt.register_step_post_hook(hook(f"post-{i}")) for i in (1, 2, 3)]
    handles += [
        register_optimizer_step_post_hook(hook("global-post-1")),
        register_optimizer_step_post_hook(hook("global-post-2")),
    ]
    try:
        opt.step()
    finally:
        for h in handles:
            h.remove()
    before = [
        ("global-pre-1", True, True),
        ("global-pre-2", True, True),
        ("pre-1", True, True),
        ("pre-2", True, True),
        ("pre-3", True, True),
    ]
    after = [
        ("post-1", True, False),
        ("post-2", True, False),
        ("post-3", True, False),
        ("global-post-1", True, False),
        ("global-post-2", True, False),
    ]
    assert calls == before + after, calls


@pytest.mark.spec("R19", "R23")
def test_step_pre_hooks_replace_args_then_kwargs(target):
    """A pre-hook's (args, kwargs) replace step's arguments for the next hooks, the step and the
    post-hooks: the first replaces the positional args, the second the keyword args. As in torch,
    ``args`` starts with the optimizer itself."""
    opt, _ = _opt(target)
    seen, called = [], []

    def closure_a():
        called.append("a")
        return "a"

    def closure_b():
        called.append("b")
        return "b"

    opt.register_step_pre_hook(lambda o, args, kwargs: ((o, closure_a), {}))
    opt.register_step_pre_hook(
        lambda o, args, kwargs: (seen.append(("pre-2", args, kwargs)), ((o,), {"closure": closure_b}))[1]
    )
    opt.register_step_pre_hook(lambda o, args, kwargs: seen.append(("pre-3", args, kwargs)))  # returns None: no change
    opt.register_step_post_hook(lambda o, args, kwargs: seen.append(("post", args, kwargs)))
    assert opt.step() == "b"
    assert called == ["b"], f"closures called: {called}"
    assert seen == [
        ("pre-2", (opt, closure_a), {}),
        ("pre-3", (opt,), {"closure": closure_b}),
        ("post", (opt,), {"closure": closure_b}),
    ], seen


@pytest.mark.spec("R19")
@pytest.mark.parametrize("bad", [42, ((), {}, None), "args"], ids=["int", "3-tuple", "str"])
def test_step_pre_hook_bad_return_raises(target, bad):
    """A pre-hook returning anything but None or (args, kwargs) raises torch's RuntimeError."""
    opt, p = _opt(target)
    opt.register_step_pre_hook(lambda o, args, kwargs: bad)
    with pytest.raises(RuntimeError, match=r" must return None or a tuple of \(new_args, new_kwargs\), but got "):
        opt.step()
    assert torch.equal(p.detach(), torch.ones(3)), "the step ran although its pre-hook failed"


@pytest.mark.spec("R19")
def test_step_hook_handles_removed_mid_run(target):
    """handle.remove() unregisters just that hook, between steps; the others keep running."""
    opt, _ = _opt(target)
    calls: list[str] = []
    pre = {n: opt.register_step_pre_hook(lambda o, a, k, n=n: calls.append(n)) for n in ("pre-a", "pre-b", "pre-c")}
    post = {n: opt.register_step_post_hook(lambda o, a, k, n=n: calls.append(n)) for n in ("post-a", "post-b")}
    glob = register_optimizer_step_pre_hook(lambda o, a, k: calls.append("global") if o is opt else None)
    try:
        opt.step()
        pre["pre-b"].remove()
        post["post-a"].remove()
        opt.step()
        glob.remove()
        pre["pre-a"].remove()
        opt.step()
    finally:
        glob.remove()
    assert calls == [
        "global",
        "pre-a",
        "pre-b",
        "pre-c",
        "post-a",
        "post-b",
        "global",
        "pre-a",
        "pre-c",
        "post-b",
        "pre-c",
        "post-b",
    ], calls


@pytest.mark.spec("R20")
def test_state_dict_hooks_order_prepend_and_returns(target):
    """Pre-hooks run in order, a prepended one first; post-hooks too, each receiving what the
    previous returned: None keeps the dict (edited in place), a returned dict replaces it."""
    opt, _ = _opt(target)
    calls, received = [], []
    opt.register_state_dict_pre_hook(lambda o: calls.append("pre-a"))
    opt.register_state_dict_pre_hook(lambda o: calls.append("pre-b"))
    opt.register_state_dict_pre_hook(lambda o: calls.append("pre-first"), prepend=True)

    def in_place(o, sd):
        received.append(("in-place", sd))
        sd["edited"] = True  # returns None: the same dict goes on

    def replacing(o, sd):
        received.append(("replacing", sd))
        return {**sd, "replaced": True}

    def last(o, sd):
        received.append(("last", sd))
        return None

    opt.register_state_dict_post_hook(replacing)
    opt.register_state_dict_post_hook(last)
    opt.register_state_dict_post_hook(in_place, prepend=True)
    sd = opt.state_dict()
    assert calls == ["pre-first", "pre-a", "pre-b"], calls
    assert [name for name, _ in received] == ["in-place", "replacing", "last"], received
    assert received[1][1] is received[0][1], "the second post-hook did not receive the dict the first edited"
    assert received[2][1] is not received[1][1] and received[2][1].get("replaced"), (
        "a returned dict did not replace the state_dict"
    )
    assert sd is received[2][1] and sd.get("edited") and sd.get("replaced"), sorted(sd)


@pytest.mark.spec("R21")
def test_load_state_dict_hooks_order_prepend_and_returns(target):
    """A load pre-hook's returned dict is what the next hooks receive and what is loaded (the dict
    it was given is left as it was); None passes it on; post-hooks in order, prepend first."""
    opt, p = _opt(target)
    saved = copy.deepcopy(opt.state_dict())
    calls, received = [], []

    def new_dict(o, sd):
        calls.append("pre-new")
        received.append(sd)
        out = copy.deepcopy(sd)
        out["param_groups"][0]["lr"] = 0.375
        return out

    def check(o, sd):
        calls.append("pre-check")
        received.append(sd)

    h_new = opt.register_load_state_dict_pre_hook(new_dict)
    opt.register_load_state_dict_pre_hook(check)
    opt.register_load_state_dict_pre_hook(lambda o, sd: calls.append("pre-first"), prepend=True)
    opt.register_load_state_dict_post_hook(lambda o: calls.append("post-a"))
    opt.register_load_state_dict_post_hook(lambda o: calls.append(("post-b", o.param_groups[0]["lr"])))
    opt.register_load_state_dict_post_hook(lambda o: calls.append("post-first"), prepend=True)
    opt.load_state_dict(saved)
    assert calls == ["pre-first", "pre-new", "pre-check", "post-first", "post-a", ("post-b", 0.375)], calls
    assert received[1] is not received[0] and received[1]["param_groups"][0]["lr"] == 0.375
    assert received[0]["param_groups"][0]["lr"] == 0.1, "the pre-hook's input was changed"
    assert opt.param_groups[0]["lr"] == 0.375, "the dict a load pre-hook returned was not the one loaded"
    h_new.remove()  # removed mid-run: the next load takes the saved lr again
    calls.clear()
    opt.load_state_dict(saved)
    assert calls == ["pre-first", "pre-check", "post-first", "post-a", ("post-b", 0.1)], calls
    assert opt.param_groups[0]["lr"] == 0.1


@pytest.mark.spec("R20", "R21")
def test_state_dict_hook_handles_remove(target):
    """Each of the four state_dict hook kinds is unregistered by its handle."""
    opt, _ = _opt(target)
    calls: list[str] = []
    handles = [
        opt.register_state_dict_pre_hook(lambda o: calls.append("sd-pre")),
        opt.register_state_dict_post_hook(lambda o, sd: calls.append("sd-post")),
        opt.register_load_state_dict_pre_hook(lambda o, sd: calls.append("load-pre")),
        opt.register_load_state_dict_post_hook(lambda o: calls.append("load-post")),
    ]
    opt.load_state_dict(opt.state_dict())
    assert calls == ["sd-pre", "sd-post", "load-pre", "load-post"], calls
    for h in handles:
        h.remove()
    calls.clear()
    opt.load_state_dict(opt.state_dict())
    assert calls == [], calls
