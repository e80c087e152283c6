"""Variants: Adagrads conformant another way (float64 inside, another rounding or association
order, torch's foreach in float64)."""

from __future__ import annotations

import torch

from .base import _Grouped, _Update


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
