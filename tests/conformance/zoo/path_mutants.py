"""Path mutants: torch's own paths, one group at a time, one path broken (and one a sharded run
alone exposes)."""

from __future__ import annotations

import torch

from .base import _Grouped


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
