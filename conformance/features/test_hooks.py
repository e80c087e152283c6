"""The six hook registrations (R19-R21): calls, order, return values, handle removal."""

from __future__ import annotations

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


def test_step_hook_order_and_arguments(target):
    """R19: global pre, instance pre (registration order), step, instance post, global post."""
    opt, p = _opt(target)
    calls = []
    handles = [
        register_optimizer_step_pre_hook(lambda o, a, k: calls.append(("global-pre", o is opt))),
        opt.register_step_pre_hook(lambda o, a, k: calls.append(("pre-1", o is opt))),
        opt.register_step_pre_hook(lambda o, a, k: calls.append(("pre-2", float(p.detach()[0]) == 1.0))),
        opt.register_step_post_hook(lambda o, a, k: calls.append(("post", float(p.detach()[0]) != 1.0))),
        register_optimizer_step_post_hook(lambda o, a, k: calls.append(("global-post", o is opt))),
    ]
    try:
        opt.step()
    finally:
        for h in handles:
            h.remove()
    assert calls == [("global-pre", True), ("pre-1", True), ("pre-2", True), ("post", True), ("global-post", True)], calls


def test_step_pre_hook_can_replace_arguments(target):
    """R19: a pre-hook returning (args, kwargs) replaces step's arguments."""
    opt, _ = _opt(target)
    opt.register_step_pre_hook(lambda o, args, kwargs: (args, {"closure": lambda: "replaced"}))
    assert opt.step() == "replaced"


def test_step_pre_hook_bad_return_raises(target):
    """R19: a pre-hook returning anything else than None or (args, kwargs) raises RuntimeError."""
    opt, _ = _opt(target)
    opt.register_step_pre_hook(lambda o, args, kwargs: 42)
    with pytest.raises(RuntimeError):
        opt.step()


def test_step_hook_handles_remove(target):
    """R19: handle.remove() unregisters a step hook."""
    opt, _ = _opt(target)
    calls = []
    pre = opt.register_step_pre_hook(lambda *a: calls.append("pre"))
    post = opt.register_step_post_hook(lambda *a: calls.append("post"))
    opt.step()
    pre.remove()
    post.remove()
    opt.step()
    assert calls == ["pre", "post"]


def test_state_dict_hooks(target):
    """R20: pre hook(opt) before, post hook(opt, sd) after; a returned dict replaces; prepend; remove."""
    opt, _ = _opt(target)
    calls = []
    h1 = opt.register_state_dict_pre_hook(lambda o: calls.append("pre-a"))
    h2 = opt.register_state_dict_pre_hook(lambda o: calls.append("pre-b"), prepend=True)
    h3 = opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
    sd = opt.state_dict()
    assert calls == ["pre-b", "pre-a"]
    assert sd.get("extra") == 1
    for h in (h1, h2, h3):
        h.remove()
    calls.clear()
    assert "extra" not in opt.state_dict() and calls == []


def test_load_state_dict_hooks(target):
    """R21: pre hook(opt, sd) may return the dict to load; post hook(opt) after; prepend; remove."""
    opt, p = _opt(target)
    saved = opt.state_dict()
    calls = []

    def pre(o, sd):
        calls.append("pre")
        sd["param_groups"][0]["lr"] = 0.375
        return sd

    h1 = opt.register_load_state_dict_pre_hook(pre)
    h2 = opt.register_load_state_dict_post_hook(lambda o: calls.append("post-a"))
    h3 = opt.register_load_state_dict_post_hook(lambda o: calls.append("post-b"), prepend=True)
    opt.load_state_dict(saved)
    assert calls == ["pre", "post-b", "post-a"]
    assert opt.param_groups[0]["lr"] == 0.375
    for h in (h1, h2, h3):
        h.remove()
    calls.clear()
    opt.load_state_dict(opt.state_dict())
    assert calls == []
