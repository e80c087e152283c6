"""Small torch-API Adagrads that are not torch's, for the target-spec tests: right maths, other
surfaces (renamed lazy state, fewer keywords, refusals before and after a change)."""

from __future__ import annotations

import time

import torch


class LazyRenamed(torch.optim.Optimizer):
    """Adagrad as torch computes it (for-loop), without lr_decay, tau or maximize keywords; state
    ``{"acc", "t"}`` created at a parameter's first step; ``t`` a Python int."""

    def __init__(self, params, lr=1e-2, weight_decay=0.0, eps=1e-10):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["t"], state["acc"] = 0, torch.zeros_like(p)
                state["t"] += 1
                self.update(p, state, group)
        return None

    def update(self, p, state, group):
        """One parameter's update from its (already counted) state."""
        g = p.grad if group["weight_decay"] == 0 else p.grad.add(p, alpha=group["weight_decay"])
        state["acc"].addcmul_(g, g, value=1)
        p.addcdiv_(g, state["acc"].sqrt().add_(group["eps"]), value=-group["lr"])


class OpaqueState(LazyRenamed):
    """The same maths, its state_dict not torch's (keys acc and t): unreadable without a mapping."""


class RefusesAfterChange(LazyRenamed):
    """Takes ``weight_decay`` but refuses it in step, after it advanced the step count."""

    def update(self, p, state, group):
        if group["weight_decay"] != 0:
            raise NotImplementedError("weight_decay is not supported")
        super().update(p, state, group)


class WritesThenRefusesComplex(LazyRenamed):
    """Writes its accumulator in place, then refuses a complex parameter (as torchopt does). The
    write adds 0, so no bit changes: only the write itself shows the refusal was not clean."""

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and p.is_complex():
                    if "acc" in self.state[p]:
                        self.state[p]["acc"].add_(0.0)
                    raise NotImplementedError("complex parameters are not supported")
        return super().step(closure)


class WrongEps(LazyRenamed):
    """eps inside the square root: a real deviation the mapping must let the suite see."""

    def update(self, p, state, group):
        state["acc"].addcmul_(p.grad, p.grad, value=1)
        p.addcdiv_(p.grad, state["acc"].add(group["eps"]).sqrt(), value=-group["lr"])


def refuses_lr_decay(params, lr=1e-2, lr_decay=0.0, **hyper):
    """torch's Adagrad that refuses every lr_decay but 0, in its own words (as bitsandbytes does)."""
    if lr_decay != 0.0:
        raise ValueError("Lr Decay != 0.0 not supported!")
    return torch.optim.Adagrad(params, lr=lr, **hyper)


def own_wording(params, lr=1e-2, lr_decay=0.0, **hyper):
    """torch's Adagrad that validates lr_decay in its own words: it supports lr_decay, so its
    message for a bad one is a deviation from torch's."""
    if not lr_decay >= 0.0:
        raise ValueError(f"lr_decay must be non-negative, got {lr_decay}")
    return torch.optim.Adagrad(params, lr=lr, lr_decay=lr_decay, **hyper)


def no_foreach_factory(params, lr=1e-2):
    """A factory without foreach/fused keywords (torch's Adagrad, plain path)."""
    return torch.optim.Adagrad(params, lr=lr, foreach=False)


_BUILT = False


def build_on_first_use() -> None:
    """Stands in for a library's build on first use (DeepSpeed JIT-builds a C++ op): 4 s of
    waiting, once per process; a target spec names it as its ``warm_up``."""
    global _BUILT
    if not _BUILT:
        time.sleep(4)
        _BUILT = True


def failing_build() -> None:
    """A build on first use that fails (no compiler, say)."""
    raise OSError("g++: command not found")


class BuiltOnFirstUse(LazyRenamed):
    """:class:`LazyRenamed` whose first construction in a process builds something (4 s)."""

    def __init__(self, params, lr=1e-2, weight_decay=0.0, eps=1e-10):
        build_on_first_use()
        super().__init__(params, lr=lr, weight_decay=weight_decay, eps=eps)


class NoDifferentiable(torch.optim.Adagrad):
    """torch's Adagrad without ``differentiable=True``: refused at construction, on every path."""

    def __init__(self, params, *args, differentiable=False, **kwargs):
        if differentiable:
            raise RuntimeError("differentiable=True is not supported by this Adagrad")
        super().__init__(params, *args, **kwargs)


class DifferentiableForeachOwnWording(torch.optim.Adagrad):
    """Refuses ``foreach`` with ``differentiable`` only, in its own words (torch raises
    ``AssertionError: _foreach ops don't support autograd``); computes it on the plain path."""

    def __init__(self, params, *args, differentiable=False, foreach=None, **kwargs):
        if differentiable and foreach:
            raise RuntimeError("differentiable=True is not supported with foreach=True")
        super().__init__(params, *args, differentiable=differentiable, foreach=foreach, **kwargs)


class NoComplex(torch.optim.Adagrad):
    """torch's Adagrad that refuses complex params at the step, on every path, before any change."""

    def step(self, closure=None):
        if any(p.is_complex() for g in self.param_groups for p in g["params"]):
            raise NotImplementedError("complex parameters are not supported")
        return super().step(closure)


class ComplexFusedOwnWording(torch.optim.Adagrad):
    """Refuses complex params on the fused path only, in its own words (torch's differ)."""

    def step(self, closure=None):
        if self.defaults.get("fused") and any(p.is_complex() for g in self.param_groups for p in g["params"]):
            raise NotImplementedError("complex parameters are not supported when fused")
        return super().step(closure)
