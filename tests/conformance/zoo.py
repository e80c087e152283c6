"""The mutant zoo: Adagrads that each break one rule, and variants that are conformant differently.

Every mutant is torch's Adagrad with one rule of docs/spec.md broken, through a small override;
``MUTANTS`` maps each to the feature the suite must name when it fails. ``VARIANTS`` compute the
same rule another way (another rounding order, float64 inside, torch's own paths) and must pass.
Targets are named ``tests.conformance.zoo:NAME`` (the tests put the repository root on sys.path).
"""

from __future__ import annotations

import math
import os
import time

import torch
from torch.optim import Adagrad
from torch.optim.adagrad import adagrad as _functional_adagrad
from torch.optim.optimizer import _use_grad_for_differentiable


class _Update(Adagrad):
    """A for-loop Adagrad whose dense real update is one overridable method (the spec's R1).

    Each group's own tau starts its sums (R13; torch's constructor uses its own, D1), so that a
    member breaks only the rule it names.
    """

    def __init__(self, params, *args, **kwargs):
        super().__init__(params, *args, **kwargs)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["sum"].fill_(group["initial_accumulator_value"])

    def _dense(self, p, g, s, t: float, group) -> None:
        clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        s.addcmul_(g, g)
        p.addcdiv_(g, self._denominator(s, group["eps"]), value=-clr)

    def _denominator(self, s, eps: float):
        """sqrt(s) + eps (R7); mutants of the denominator override only this."""
        return s.sqrt() + eps

    def _advance(self, state) -> float:
        state["step"] += 1
        return float(state["step"])

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with torch.no_grad():
            for group in self.param_groups:
                if group.get("differentiable") or group.get("fused") or group.get("foreach"):
                    raise RuntimeError("this zoo member only has the dense for-loop path")
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    if p.grad.is_sparse or p.is_complex():
                        raise RuntimeError("this zoo member only has the dense real path")
                    state = self.state[p]
                    if not state:  # a param added by add_param_group: its group's tau (R13)
                        tau = group["initial_accumulator_value"]
                        state.update(step=torch.tensor(0.0), sum=torch.full_like(p, tau))
                    self._dense(p, p.grad, state["sum"], self._advance(state), group)
        return loss


# -- mutants: each breaks one rule ----------------------------------------------------------
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


# -- path mutants: torch's own paths, one group at a time, one path broken ----------------------
class _Grouped(Adagrad):
    """torch's Adagrad.step with each group's update in one overridable method (``_update``).

    Path mutants override ``_update`` (or ``_init_group``) and break one rule on one path; every
    other path is torch's own. The step is this class's own, so hooks run once. Each group's own
    tau starts its sums (R13, where torch uses the constructor's: D1), so that a member breaks
    only the rule it names.
    """

    def __init__(self, params, *args, **kwargs):
        super().__init__(params, *args, **kwargs)
        for group in self.param_groups:
            self._own_tau(group)

    def _own_tau(self, group) -> None:
        tau = group["initial_accumulator_value"]
        for p in group["params"]:
            state = self.state[p]
            if not state:  # added by add_param_group: created here, with the group's tau
                state["step"] = torch.tensor(0.0)
                state["sum"] = torch.empty_like(p, memory_format=torch.preserve_format)
            if float(state["step"]) == 0:
                state["sum"].fill_(complex(tau, tau) if p.is_complex() else tau)

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        if hasattr(self, "state"):
            self._own_tau(self.param_groups[-1])

    @_use_grad_for_differentiable
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads, sums, steps = [], [], [], []
            has_sparse, has_complex = self._init_group(group, params, grads, sums, steps)
            self._update(group, params, grads, sums, steps, has_sparse, has_complex)
        return loss

    def _update(self, group, params, grads, sums, steps, has_sparse, has_complex, **changes) -> None:
        hyper = {
            k: group[k]
            for k in ("lr", "weight_decay", "lr_decay", "eps", "foreach", "maximize", "differentiable", "fused")
        }
        _functional_adagrad(
            params,
            grads,
            sums,
            steps,
            has_sparse_grad=has_sparse,
            has_complex=has_complex,
            grad_scale=None,
            found_inf=None,
            **{**hyper, **changes},
        )


class ForeachFirstGroupHyperparameters(_Grouped):
    """R12 broken on foreach: every group is updated with the first group's hyperparameters."""

    def _update(self, group, *args, **changes):
        if group["foreach"]:
            first = self.param_groups[0]
            changes.update({k: first[k] for k in ("lr", "weight_decay", "lr_decay", "eps", "maximize")})
        super()._update(group, *args, **changes)


class FusedMissingGradAsZero(_Grouped):
    """R15 broken on fused: a parameter without a gradient is stepped with a zero gradient."""

    def _init_group(self, group, *lists):
        missing = [p for p in group["params"] if p.grad is None] if group["fused"] else []
        for p in missing:
            p.grad = torch.zeros_like(p)
        try:
            return super()._init_group(group, *lists)
        finally:
            for p in missing:
                p.grad = None


class FusedClampsNonFinite(_Grouped):
    """R25 broken on fused: NaN and inf gradients are replaced by finite numbers."""

    def _update(self, group, params, grads, *args, **changes):
        if group["fused"]:
            grads = [torch.nan_to_num(g, nan=0.0, posinf=1.0, neginf=-1.0) for g in grads]
        super()._update(group, params, grads, *args, **changes)


class ForeachDropsComplex(_Grouped):
    """R11 broken on foreach: complex parameters are left out of the multi-tensor update."""

    def _update(self, group, params, grads, sums, steps, has_sparse, has_complex, **changes):
        if group["foreach"]:
            keep = [i for i, p in enumerate(params) if not p.is_complex()]
            params, grads, sums, steps = ([x[i] for i in keep] for x in (params, grads, sums, steps))
            has_complex = False
        super()._update(group, params, grads, sums, steps, has_sparse, has_complex, **changes)


class ForeachSparseSquaresDuplicates(_Grouped):
    """R9 broken on foreach: duplicate entries of a sparse gradient squared one by one, then summed."""

    def _update(self, group, params, grads, sums, steps, has_sparse, has_complex, **changes):
        if not (group["foreach"] and has_sparse):
            return super()._update(group, params, grads, sums, steps, has_sparse, has_complex, **changes)
        for p, g, s, t in zip(params, grads, sums, steps):
            t += 1
            clr = group["lr"] / (1 + (float(t) - 1) * group["lr_decay"])
            g = -g if group["maximize"] else g
            s.add_(torch.sparse_coo_tensor(g._indices(), g._values() ** 2, g.shape).coalesce().to_dense())
            gc = g.coalesce()
            rows = gc._indices()[0]
            p[rows] -= clr * gc._values() / (s[rows].sqrt() + group["eps"])
        return None


class ForeachLrReadOnce(_Grouped):
    """R31 broken on foreach: the lr is read at the group's first step; later edits are ignored."""

    def _update(self, group, *args, **changes):
        if group["foreach"]:
            first = self.__dict__.setdefault("_first_lr", {})
            changes["lr"] = first.setdefault(id(group), group["lr"])
        super()._update(group, *args, **changes)


class FusedTensorLrAsFloat32(_Grouped):
    """R8 broken on fused: a tensor lr is handed to the kernel as float32, whatever its dtype."""

    def _update(self, group, *args, **changes):
        if group["fused"] and torch.is_tensor(group["lr"]):
            changes["lr"] = group["lr"].to(torch.float32)
        super()._update(group, *args, **changes)


class FusedBlocksDropTail(_Grouped):
    """R1 broken on fused above 2**16 elements: the kernel runs n // 2**16 blocks, the tail is skipped."""

    BLOCK = 2**16

    def _update(self, group, params, grads, sums, steps, *args, **changes):
        tails = []
        if group["fused"]:
            for p, s in zip(params, sums):
                start = p.numel() // self.BLOCK * self.BLOCK
                if p.numel() > self.BLOCK and start < p.numel():
                    tails.append((p, s, start, p.detach().reshape(-1)[start:].clone(), s.reshape(-1)[start:].clone()))
        super()._update(group, params, grads, sums, steps, *args, **changes)
        with torch.no_grad():
            for p, s, start, p_tail, s_tail in tails:
                p.view(-1)[start:] = p_tail
                s.view(-1)[start:] = s_tail


class StepInParamDtype(_Grouped):
    """R2/R17 broken: the step counter is kept in the parameter's dtype (bfloat16 stops at 256)."""

    def _init_group(self, group, *lists):
        for p in group["params"]:
            if p.grad is not None and self.state[p] and self.state[p]["step"].dtype != p.dtype and not p.is_complex():
                self.state[p]["step"] = self.state[p]["step"].to(p.dtype)
        return super()._init_group(group, *lists)


class FusedIgnoresMaximize(_Grouped):
    """R4 broken on fused: maximize has no effect."""

    def _update(self, group, *args, **changes):
        if group["fused"]:
            changes["maximize"] = False
        super()._update(group, *args, **changes)


class ForeachMissingGradAdvancesStep(_Grouped):
    """R15 broken on foreach: the step counters of the whole group advance, gradient or not."""

    def _update(self, group, params, *args, **changes):
        super()._update(group, params, *args, **changes)
        if group["foreach"]:
            for p in group["params"]:
                if p.grad is None:
                    self.state[p]["step"] += 1


class ForeachReplacesStorage(_Grouped):
    """R29 broken on foreach: non-contiguous params are updated as contiguous copies put back with p.data."""

    def _update(self, group, params, *args, **changes):
        if not group["foreach"]:
            return super()._update(group, params, *args, **changes)
        copies = [p if p.is_contiguous() else p.detach().contiguous() for p in params]
        super()._update(group, copies, *args, **changes)
        for p, q in zip(params, copies):
            if q is not p:
                p.data = q
        return None


class ForeachDifferentiableWithoutGrad(_Grouped):
    """R28 broken on foreach: differentiable=True accepted (torch refuses), but the step is taken
    without autograd, so nothing flows through it."""

    def _update(self, group, *args, **changes):
        if group["foreach"] and group["differentiable"]:
            with torch.no_grad():
                return super()._update(group, *args, **{**changes, "differentiable": False})
        return super()._update(group, *args, **changes)


class FusedMutatesGradient(_Grouped):
    """R26 broken on fused: maximize negates the gradient in place."""

    def _update(self, group, params, grads, *args, **changes):
        if group["fused"] and group["maximize"]:
            for g in grads:
                g.neg_()
            changes["maximize"] = False
        super()._update(group, params, grads, *args, **changes)


class AddedGroupInheritsStep(_Grouped):
    """R16 broken: a group added by add_param_group starts at the step count the others reached."""

    def add_param_group(self, param_group):
        reached = max((float(s["step"]) for s in self.state.values() if "step" in s), default=0.0)
        super().add_param_group(param_group)
        for p in self.param_groups[-1]["params"]:
            self.state[p]["step"] = torch.tensor(reached)


# -- API mutants: torch's Adagrad with one API rule broken ----------------------------------------
class StateDictPostHookReturnIgnored(Adagrad):
    """R20 broken: a state_dict post-hook's returned dict is dropped (only in-place edits count)."""

    def state_dict(self):
        hooks = self._optimizer_state_dict_post_hooks
        saved = dict(hooks)
        for key, hook in saved.items():
            hooks[key] = lambda o, sd, hook=hook: (hook(o, sd), None)[1]
        try:
            return super().state_dict()
        finally:
            hooks.update(saved)


class LoadPreHookReturnIgnored(Adagrad):
    """R21 broken: a load_state_dict pre-hook's returned dict is dropped (only in-place edits count)."""

    def load_state_dict(self, state_dict):
        hooks = self._optimizer_load_state_dict_pre_hooks
        saved = dict(hooks)
        for key, hook in saved.items():
            hooks[key] = lambda o, sd, hook=hook: (hook(o, sd), None)[1]
        try:
            return super().load_state_dict(state_dict)
        finally:
            hooks.update(saved)


class PrependIgnored(Adagrad):
    """R20/R21 broken: prepend=True is ignored, every hook is appended."""

    def register_state_dict_pre_hook(self, hook, prepend=False):
        return super().register_state_dict_pre_hook(hook)

    def register_state_dict_post_hook(self, hook, prepend=False):
        return super().register_state_dict_post_hook(hook)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        return super().register_load_state_dict_pre_hook(hook)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        return super().register_load_state_dict_post_hook(hook)


class ZeroGradMissesAddedGroups(Adagrad):
    """R22 broken: zero_grad walks the groups the optimizer was constructed with, not added ones."""

    def __init__(self, params, *args, **kwargs):
        super().__init__(params, *args, **kwargs)
        self._constructed = len(self.param_groups)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups[: self._constructed]:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_()
                    p.grad.zero_()


class StateDictDropsMaximize(Adagrad):
    """R17/R18 broken: state_dict leaves maximize out of the groups, so a load falls back to False."""

    def state_dict(self):
        sd = super().state_dict()
        sd["param_groups"] = [{k: v for k, v in g.items() if k != "maximize"} for g in sd["param_groups"]]
        return sd


class ResumeResetsStep(Adagrad):
    """R18 broken: load_state_dict keeps the sums but restarts every step count at 0."""

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for state in self.state.values():
            if "step" in state:
                state["step"].zero_()


class AcceptsNanEps(Adagrad):
    """R24 broken: eps is checked with `eps < 0`, so NaN passes validation."""

    def __init__(self, params, *args, eps=1e-10, **kwargs):
        super().__init__(params, *args, eps=0.0 if math.isnan(eps) else eps, **kwargs)
        if math.isnan(eps):
            self.defaults["eps"] = eps
            for group in self.param_groups:
                group["eps"] = eps


# -- variants: conformant another way ------------------------------------------------------
class Float64Inside(_Update):
    """Computes every update in float64 and rounds once to the parameter's dtype."""

    def _dense(self, p, g, s, t, group):
        p64, g64, s64 = p.double(), g.double(), s.double()
        super()._dense(p64, g64, s64, t, group)
        p.copy_(p64)
        s.copy_(s64)


class OtherRoundingOrder(_Update):
    """p - (clr * g) / (sqrt(s) + eps), and the decayed lr computed as lr * (1 / (1 + ...));
    float16/bfloat16 divide in float32 and round once."""

    def _dense(self, p, g, s, t, group):
        clr = group["lr"] * (1.0 / (1.0 + (t - 1) * group["lr_decay"]))
        g = -g if group["maximize"] else g
        if group["weight_decay"] != 0:
            g = torch.add(g, p, alpha=group["weight_decay"])
        s.add_(g * g)
        if p.dtype in (torch.float16, torch.bfloat16):  # the denominator in float32, so eps does not underflow (R7)
            p.sub_(((g * clr).float() / (torch.sqrt(s.float()) + group["eps"])).to(p.dtype))
        else:
            p.sub_((g * clr) / (torch.sqrt(s) + group["eps"]))


class OtherAssociationOrder(_Update):
    """p + g * (-clr / d): the lr divided by the denominator first, weight decay as lambda*p + g;
    the denominator in float32 for float16/bfloat16 (so eps does not underflow, R7)."""

    def _dense(self, p, g, s, t, group):
        clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        g = torch.neg(g) if group["maximize"] else g
        if group["weight_decay"] != 0:
            g = p * group["weight_decay"] + g
        s.addcmul_(g, g)
        wide = s.float() if s.dtype in (torch.float16, torch.bfloat16) else s
        p.copy_(p + g * (-clr / (torch.sqrt(wide) + group["eps"])))


class Float64Foreach(_Grouped):
    """Every dense path computed with multi-tensor ops in float64 (complex as real pairs), rounded
    once into the parameter's dtype; sparse and differentiable groups use torch's own for-loop
    (fused ones refuse them as torch does)."""

    def _update(self, group, params, grads, sums, steps, has_sparse, has_complex, **changes):
        if has_sparse or group["differentiable"] or not params:
            return super()._update(group, params, grads, sums, steps, has_sparse, has_complex, **changes)
        real = [torch.view_as_real(x) if x.is_complex() else x for x in params]
        p64 = [x.double() for x in real]
        g64 = [(torch.view_as_real(g) if g.is_complex() else g).double() for g in grads]
        s_real = [torch.view_as_real(s) if s.is_complex() else s for s in sums]
        s64 = [s.double() for s in s_real]
        torch._foreach_add_(steps, 1)
        lr = float(group["lr"])
        clrs = [-lr / (1 + (float(t) - 1) * group["lr_decay"]) for t in steps]
        if group["maximize"]:
            g64 = torch._foreach_neg(g64)
        if group["weight_decay"] != 0:
            g64 = torch._foreach_add(g64, p64, alpha=group["weight_decay"])
        torch._foreach_addcmul_(s64, g64, g64)
        denom = torch._foreach_add(torch._foreach_sqrt(s64), group["eps"])
        torch._foreach_addcdiv_(p64, torch._foreach_mul(g64, clrs), denom)
        for x, y in zip(real + s_real, p64 + s64):
            x.copy_(y)
        return None


def torch_foreach(params, **hyper):
    """torch's own foreach path as the default."""
    hyper.setdefault("foreach", None if hyper.get("fused") or hyper.get("differentiable") else True)
    return Adagrad(params, **hyper)


MUTANTS: dict[str, str] = {
    "EpsInsideSqrt": "hyperparameters",
    "LrDecayOffByOne": "hyperparameters",
    "WeightDecayNotAccumulated": "hyperparameters",
    "MaximizeAfterWeightDecay": "hyperparameters",
    "MaximizeIgnored": "hyperparameters",
    "AccumulatorStartsAtZero": "hyperparameters",
    "NoSquareRoot": "numerics-float64",
    "StepAdvancesWithoutGrad": "missing-grads",
    "SharedStepCounter": "missing-grads",
    "MutatesGradient": "grad-readonly",
    "ClampsNonFinite": "non-finite",
    "LrReadOnce": "lr-schedule",
    "ZeroGradKeepsTensors": "zero-grad",
    "ClosureWithoutGrad": "closure",
    "AcceptsNegativeLr": "validation",
    "LoadIgnoresHyperparameters": "state-dict",
    "SparseSquaresBeforeSumming": "sparse",
    "ComplexSharedAccumulator": "complex",
    "NoGradThroughStep": "differentiable",
    "ReplacesParamStorage": "layouts",
    "CrashesOnStep": "(crashed)",  # xdist reports a crashed worker's tests without their markers
    "HangsOnStep": "numerics-float64",
    # issue 10: one per class (paths x features, sizes, step dtype, hooks, API)
    "ForeachFirstGroupHyperparameters": "groups",
    "FusedMissingGradAsZero": "missing-grads",
    "FusedClampsNonFinite": "non-finite",
    "ForeachDropsComplex": "complex",
    "ForeachSparseSquaresDuplicates": "sparse",
    "ForeachLrReadOnce": "lr-schedule",
    "FusedTensorLrAsFloat32": "tensor-lr",
    "FusedBlocksDropTail": "shapes",
    "StepInParamDtype": "numerics-bfloat16",
    "FusedIgnoresMaximize": "hyperparameters",
    "ForeachMissingGradAdvancesStep": "missing-grads",
    "ForeachReplacesStorage": "layouts",
    "ForeachDifferentiableWithoutGrad": "differentiable",
    "FusedMutatesGradient": "grad-readonly",
    "AddedGroupInheritsStep": "groups",
    "StateDictPostHookReturnIgnored": "hooks",
    "LoadPreHookReturnIgnored": "hooks",
    "PrependIgnored": "hooks",
    "ZeroGradMissesAddedGroups": "zero-grad",
    "StateDictDropsMaximize": "state-dict",
    "ResumeResetsStep": "state-dict",
    "AcceptsNanEps": "validation",
}

#: Features the _Update-based members do not claim (they have the dense real for-loop path only).
DENSE_ONLY_EXCLUDES = ["foreach", "fused", "sparse", "complex", "differentiable"]

VARIANTS: dict[str, list[str]] = {
    "Float64Inside": DENSE_ONLY_EXCLUDES,
    "OtherRoundingOrder": DENSE_ONLY_EXCLUDES,
    # torch_foreach is not here: it is torch's foreach path under another name, with torch's own
    # divergences (D1, D3, D5), which the packaged entries accept for torch.optim:Adagrad only.
    "OtherAssociationOrder": DENSE_ONLY_EXCLUDES,
    "Float64Foreach": [],
}


def excludes(name: str) -> list[str]:
    """Features a zoo member does not claim (passed to ``check --exclude``)."""
    if name in VARIANTS:
        return VARIANTS[name]
    cls = globals()[name]
    return DENSE_ONLY_EXCLUDES if isinstance(cls, type) and issubclass(cls, _Update) else []


# -- issue 12: a mutant only a sharded run exposes (added at the end: one class, one entry) ------
class NarrowsLargeTensors(_Grouped):
    """R1 broken under FSDP2 on foreach (adagrad.impl's bug in issue 12): a dense tensor above
    2**19 elements is updated through ``view(-1).narrow(...)`` slices. On a plain tensor a slice
    is a view and the result is torch's; on a sharded DTensor it is a replicated copy, so the
    parameter and its sum never change while the step counts on."""

    LARGE = 2**19

    def _update(self, group, params, grads, sums, steps, has_sparse, has_complex, **changes):
        if not group["foreach"] or has_sparse or group["differentiable"]:
            return super()._update(group, params, grads, sums, steps, has_sparse, has_complex, **changes)
        lists, shared = ([], [], [], []), []
        for p, g, s, t in zip(params, grads, sums, steps):
            n = p.numel()
            if n <= self.LARGE or p.is_complex() or not (p.is_contiguous() and s.is_contiguous()):
                for out, x in zip(lists, (p, g, s, t)):
                    out.append(x)
                continue
            chunk_steps = []
            for start in range(0, n, self.LARGE):
                k = min(self.LARGE, n - start)
                lists[0].append(p.view(-1).narrow(0, start, k))
                lists[1].append(g.reshape(-1).narrow(0, start, k))
                lists[2].append(s.view(-1).narrow(0, start, k))
                chunk_steps.append(t.clone())  # each slice advances its own copy of the step
            lists[3].extend(chunk_steps)
            shared.append((t, chunk_steps[0]))
        super()._update(group, *lists, has_sparse, has_complex, **changes)
        for t, advanced in shared:
            t.copy_(advanced)
        return None


MUTANTS["NarrowsLargeTensors"] = "distributed"
