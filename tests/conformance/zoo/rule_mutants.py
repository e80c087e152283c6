"""Mutants of the update rule and its API on the for-loop: each breaks one rule of docs/spec.md."""

from __future__ import annotations

import os
import time

import torch
from torch.optim import Adagrad

from .base import _Update


class EpsInsideSqrt(_Update):
    """R7 broken: sqrt(s + eps) instead of sqrt(s) + eps."""

    def _denominator(self, s, eps):
        return (s + eps).sqrt()


class LrDecayOffByOne(_Update):
    """R3 broken: lr / (1 + t * lr_decay) (decays from the first step)."""

    def _dense(self, p, g, s, t, group):
        super()._dense(p, g, s, t + 1, group)


class WeightDecayNotAccumulated(_Update):
    """R5 broken: weight decay enters the update but not the accumulator."""

    def _dense(self, p, g, s, t, group):
        clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        g = -g if group["maximize"] else g
        s.addcmul_(g, g)
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        p.addcdiv_(g, s.sqrt() + group["eps"], value=-clr)


class MaximizeAfterWeightDecay(_Update):
    """R4 broken: the sign flip applied after weight decay, so decay pushes the wrong way."""

    def _dense(self, p, g, s, t, group):
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        super()._dense(p, g, s, t, {**group, "weight_decay": 0})


class MaximizeIgnored(_Update):
    """R4 broken: maximize has no effect."""

    def _dense(self, p, g, s, t, group):
        super()._dense(p, g, s, t, {**group, "maximize": False})


class AccumulatorStartsAtZero(_Update):
    """R6 broken: the seed's typo taken literally, state_sum_0 = 0 whatever tau."""

    def __init__(self, params, *args, **kwargs):
        super().__init__(params, *args, **kwargs)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["sum"].zero_()


class NoSquareRoot(_Update):
    """R1 broken: divides by s + eps instead of sqrt(s) + eps."""

    def _denominator(self, s, eps):
        return s + eps


class StepAdvancesWithoutGrad(_Update):
    """R15 broken: a parameter without a gradient still advances its step counter."""

    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    self.state[p]["step"] += 1
        return super().step(closure)


class SharedStepCounter(_Update):
    """R2 broken: one step counter for the whole optimizer instead of one per parameter."""

    def _advance(self, state):
        self._global = getattr(self, "_global", 0) + 1
        state["step"] = torch.tensor(float(self._global))
        return float(self._global)


class MutatesGradient(_Update):
    """R26 broken: maximize and weight decay applied to .grad in place."""

    def _dense(self, p, g, s, t, group):
        if group["maximize"]:
            g.neg_()
        if group["weight_decay"] != 0:
            g.add_(p, alpha=group["weight_decay"])
        super()._dense(p, g, s, t, {**group, "maximize": False, "weight_decay": 0})


class ClampsNonFinite(_Update):
    """R25 broken: NaN and inf gradients are replaced by finite numbers."""

    def _dense(self, p, g, s, t, group):
        super()._dense(p, torch.nan_to_num(g, nan=0.0, posinf=1.0, neginf=-1.0), s, t, group)


class LrReadOnce(_Update):
    """R31 broken: the lr is read at construction; later edits of param_groups are ignored."""

    def __init__(self, params, *args, **kwargs):
        super().__init__(params, *args, **kwargs)
        self._lrs = [g["lr"] for g in self.param_groups]

    def _dense(self, p, g, s, t, group):
        index = next(i for i, gr in enumerate(self.param_groups) if gr is group)
        super()._dense(p, g, s, t, {**group, "lr": self._lrs[min(index, len(self._lrs) - 1)]})


class ZeroGradKeepsTensors(Adagrad):
    """R22 broken: zero_grad() zeroes in place by default instead of setting None."""

    def zero_grad(self, set_to_none: bool = False) -> None:
        super().zero_grad(set_to_none=set_to_none)


class ClosureWithoutGrad(Adagrad):
    """R23 broken: the closure is called under no_grad."""

    def step(self, closure=None):
        if closure is None:
            return super().step()
        with torch.no_grad():
            loss = closure()
        super().step()
        return loss


class AcceptsNegativeLr(Adagrad):
    """R24 broken: a negative lr is accepted."""

    def __init__(self, params, lr=1e-2, *args, **kwargs):
        super().__init__(params, abs(lr) if isinstance(lr, float) else lr, *args, **kwargs)
        if isinstance(lr, float) and lr < 0:
            for group in self.param_groups:
                group["lr"] = lr


class LoadIgnoresHyperparameters(Adagrad):
    """R18 broken: load_state_dict keeps the current hyperparameters instead of the saved ones."""

    def load_state_dict(self, state_dict):
        keep = [{k: v for k, v in g.items() if k != "params"} for g in self.param_groups]
        super().load_state_dict(state_dict)
        for group, old in zip(self.param_groups, keep):
            group.update(old)


class SparseSquaresBeforeSumming(Adagrad):
    """R9 broken: duplicate sparse entries squared one by one, then summed."""

    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is not None and g.is_sparse and not g.is_coalesced():
                    with torch.no_grad():
                        idx, vals = g._indices(), g._values()
                        s = self.state[p]["sum"]
                        sq = torch.sparse_coo_tensor(idx, vals * vals, g.shape).coalesce()
                        s.add_(sq.to_dense())
                        self.state[p]["step"] += 1
                        t = float(self.state[p]["step"])
                        clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
                        gc = g.coalesce()
                        sign = -1.0 if group["maximize"] else 1.0
                        rows = gc._indices()[0]
                        p[rows] -= clr * sign * gc._values() / (s[rows].sqrt() + group["eps"])
                    p.grad = None
        return super().step(closure)


class SparseDensified(Adagrad):
    """R9 broken: a sparse gradient is made dense, so absent rows get a zero-gradient update:
    0/0 where their sum and eps are 0 (the same values everywhere else)."""

    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and p.grad.is_sparse and group["weight_decay"] == 0:
                    p.grad = p.grad.to_dense()
        return super().step(closure)


class ComplexSharedAccumulator(Adagrad):
    """R11 broken: a complex parameter gets one accumulator of |g|^2 for both parts."""

    def step(self, closure=None):
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None and p.is_complex():
                        state = self.state[p]
                        state["step"] += 1
                        t = float(state["step"])
                        clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
                        g = -p.grad if group["maximize"] else p.grad
                        mag = (g * g.conj()).real
                        s = torch.view_as_real(state["sum"])
                        s.add_(mag.unsqueeze(-1))
                        p.sub_(clr * g / (s[..., 0].sqrt() + group["eps"]))
                        p.grad = None
        return super().step(closure)


class NoGradThroughStep(Adagrad):
    """R28 broken: differentiable=True accepted, but the step is taken without autograd."""

    def step(self, closure=None):
        for group in self.param_groups:
            if group["differentiable"]:
                with torch.no_grad():
                    group["differentiable"] = False
                    try:
                        for p in group["params"]:
                            if p.grad is not None:
                                p.grad = p.grad.detach()
                        return super().step(closure)
                    finally:
                        group["differentiable"] = True
        return super().step(closure)


class ReplacesParamStorage(_Update):
    """R29 broken: the param gets new, contiguous storage (p.data = ...) instead of an in-place update."""

    def _dense(self, p, g, s, t, group):
        q = p.detach().contiguous().clone()
        super()._dense(q, g.contiguous(), s, t, group)
        p.data = q


class CrashesOnStep(Adagrad):
    """Crashes the whole process on step (os.abort): the suite must survive it."""

    def step(self, closure=None):
        os.abort()


class HangsOnStep(Adagrad):
    """Never returns from step: the suite must still give a verdict in time."""

    def step(self, closure=None):
        while True:
            time.sleep(1)
