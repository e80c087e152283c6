"""What the zoo's members are built on: a for-loop Adagrad whose update is one method, torch's
paths one group at a time, and torch's foreach path as a factory."""

from __future__ import annotations

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


def torch_foreach(params, **hyper):
    """torch's own foreach path as the default."""
    hyper.setdefault("foreach", None if hyper.get("fused") or hyper.get("differentiable") else True)
    return Adagrad(params, **hyper)
