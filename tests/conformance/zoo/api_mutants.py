"""API mutants: torch's Adagrad with one rule of its Optimizer API broken (hooks, zero_grad,
state_dict, validation)."""

from __future__ import annotations

import math

from torch.optim import Adagrad


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
