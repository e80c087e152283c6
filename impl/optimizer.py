"""``Adagrad``: the optimizer class, a thin shell around :func:`adagrad.impl.functional.adagrad`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from .common import FUSED_DIFFERENTIABLE_ERROR, fused_devices, fused_kernel_missing_error, has_fused_kernel
from .functional import FusedBackend, adagrad, check_fused_backend
from .state import backfill_group_keys, check_param_states, new_state, step_tensor
from .torch_compat import OptimizerBase

__all__ = ["Adagrad"]


class Adagrad(OptimizerBase):
    r"""Adagrad (Duchi et al., 2011) with torch 2.13's constructor, state and API.

    For every parameter θ with a gradient, each :meth:`step` does (spec R1), element-wise:

    .. math::
        \begin{aligned}
        t &\leftarrow t + 1 \\
        \tilde\gamma &\leftarrow \gamma / (1 + (t - 1)\eta) \\
        g &\leftarrow -g \quad \text{if maximize} \\
        g &\leftarrow g + \lambda\theta \quad \text{if } \lambda \ne 0 \\
        s &\leftarrow s + g^2 \\
        \theta &\leftarrow \theta - \tilde\gamma\, g / (\sqrt{s} + \epsilon)
        \end{aligned}

    with γ = ``lr``, η = ``lr_decay``, λ = ``weight_decay``, ε = ``eps`` and s starting at the
    parameter's own group's τ = ``initial_accumulator_value`` (spec R13; torch uses the
    constructor's τ for every group, divergence D1).

    Three paths compute it: the for-loop (default on CPU; sparse, complex and differentiable
    steps; bitwise equal to torch's for-loop on dense float32/float64), ``foreach=True``
    (multi-tensor ops, fewer passes over memory than torch's) and ``fused=True`` (one pass per
    element: torch's ``_fused_adagrad_`` kernel on CPU and the other non-CUDA devices torch
    lists, a multi-tensor Triton kernel on CUDA). The attribute :attr:`fused_backend`
    (``"auto"``, ``"triton"``, ``"cpu"``; checked when set) picks the fused kernel. On a torch
    without ``_fused_adagrad_`` (before 2.4), ``fused=True`` for parameters other than CUDA
    ones raises a RuntimeError at construction (and at the step, for groups that become fused
    later): the fused path is never silently replaced by another one.

    The API is torch 2.13's on every torch from 2.0 on: what an older ``torch.optim.Optimizer``
    lacks (the state_dict hooks before torch 2.1, for instance) is filled in by
    :mod:`adagrad.impl.torch_compat`, and torch's own code serves everything it has.

    Where training runs: DTensor parameters (FSDP2's ``fully_shard``) are updated on every
    path with nothing gathered: foreach and fused work on the local shards (fused too, which
    torch's own fused path cannot do under FSDP2), the for-loop on the DTensors; a DTensor whose
    gradient is laid out differently goes through the for-loop on the foreach path and is
    refused by the fused path. ``copy.deepcopy`` and pickle keep the state and
    :attr:`fused_backend`; :meth:`load_state_dict` accepts every layout torch 2.x wrote (groups
    lacking ``foreach``, ``maximize``, ``differentiable`` or ``fused`` get torch's defaults
    for them), and raises ``KeyError`` for a parameter state lacking ``step`` or ``sum``, as
    torch does.

    Args:
        params: tensors, or dicts ``{"params": [...], **hyperparameters}`` (spec R12).
        lr: learning rate γ, a float or a 1-element tensor (default 1e-2).
        lr_decay: η (default 0).
        weight_decay: λ, L2 penalty (default 0).
        initial_accumulator_value: τ, the accumulator's start value (default 0).
        eps: ε, added to the denominator outside the square root (default 1e-10).
        foreach: use the foreach path (default: on CUDA only).
        maximize: maximize the objective instead of minimizing it.
        differentiable: run the step under autograd (for-loop path).
        fused: use the fused path (not with ``foreach=True`` or ``differentiable=True``).

    Raises:
        ValueError: invalid hyperparameters or params, with torch's messages (spec R24).
        RuntimeError: ``fused`` with ``differentiable`` or with ``foreach=True``, or on a torch
            without the fused kernel.

    Example:
        >>> import torch
        >>> from adagrad.impl import Adagrad
        >>> w = torch.nn.Parameter(torch.tensor([1.0, -1.0]))
        >>> opt = Adagrad([w], lr=0.5)
        >>> w.grad = torch.tensor([2.0, -2.0])
        >>> opt.step()
        >>> w.tolist(), opt.state[w]["sum"].tolist(), opt.state[w]["step"].item()
        ([0.5, -0.5], [4.0, 4.0], 1.0)
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        # `not 0.0 <= x` rather than `x < 0.0` so that NaN is rejected too.
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        self.fused_backend = "auto"
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        # torch.optim.Optimizer.__init__ calls self.add_param_group for every group, which is
        # where state is created (eagerly, spec R14).
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError(FUSED_DIFFERENTIABLE_ERROR)
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
            # Tells GradScaler to hand us grad_scale/found_inf instead of unscaling itself.
            self._step_supports_amp_scaling = True

    @property
    def fused_backend(self) -> FusedBackend:
        """Which kernel serves ``fused=True`` groups: ``"auto"`` (default), ``"triton"`` or
        ``"cpu"`` (see :data:`adagrad.impl.functional.FusedBackend`); a ValueError when set to
        anything else."""
        return self.__dict__.get("_fused_backend", "auto")

    @fused_backend.setter
    def fused_backend(self, backend: FusedBackend) -> None:
        self.__dict__["_fused_backend"] = check_fused_backend(backend)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a group (spec R16) and creates its parameters' state from its own τ (R13).

        Args:
            param_group: ``{"params": [...], **hyperparameters}``; missing hyperparameters come
                from the constructor's defaults.

        Raises:
            TypeError: ``param_group`` is not a dict (torch's message, on every torch; torch 2.0
                itself raises an AssertionError).
            RuntimeError: a fused group with non-CUDA parameters on a torch without the fused
                kernel (torch < 2.4).
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        if group["fused"] and not has_fused_kernel() and self.fused_backend != "triton":
            for p in group["params"]:
                if p.device.type != "cuda":
                    raise fused_kernel_missing_error(p.device.type)
        for p in group["params"]:
            if not self.state[p]:
                self._init_state(p, group)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Loads a state_dict saved by this class or by ``torch.optim.Adagrad`` (spec R18).

        Hyperparameters come from the saved groups (a group saved by an older torch, without
        ``foreach``, ``maximize``, ``differentiable`` or ``fused``, gets torch's defaults for
        them), ``sum`` is cast to each parameter's dtype and device, step counters are brought
        to this class's float64 (on the parameter's device for fused groups), and parameters
        the state_dict has no state for (or an empty one) start afresh from their group's τ.

        Args:
            state_dict: as returned by :meth:`state_dict`.

        Raises:
            KeyError: a parameter's state has ``step`` without ``sum`` or ``sum`` without
                ``step`` (as torch raises; the optimizer is left unchanged).
            ValueError: the groups do not match this optimizer's (torch's messages).
        """
        super().load_state_dict(state_dict)  # calls __setstate__, which checks and converts
        for group in self.param_groups:
            for p in group["params"]:
                if not self.state[p]:
                    self._init_state(p, group)

    def __getstate__(self) -> dict[str, Any]:
        """What ``copy.deepcopy`` and pickle keep: torch's (defaults, state, groups) and
        :attr:`fused_backend`."""
        state = super().__getstate__()
        state["fused_backend"] = self.fused_backend
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restores a pickled or deep-copied optimizer, or (from :meth:`load_state_dict`) a
        loaded state: checks every parameter's state first, then backfills the group keys
        older torch versions did not save and converts step counters to this class's.

        Raises:
            KeyError: a parameter's state lacks ``step`` or ``sum`` (nothing is changed).
        """
        state = dict(state)
        check_param_states(state.get("state", {}), state.get("param_groups", []))
        backend = check_fused_backend(state.pop("fused_backend", "auto"))  # absent: pickled by older versions
        backfill_group_keys([*state.get("param_groups", []), state.get("defaults", {})])
        super().__setstate__(state)
        self.fused_backend = backend
        if self.defaults.get("fused"):
            self._step_supports_amp_scaling = True
        for group in self.param_groups:
            for p in group["params"]:
                p_state = self.state.get(p)
                if p_state:
                    p_state["step"] = step_tensor(p_state["step"], p, group)

    def share_memory(self) -> None:
        """Moves every accumulator to shared memory (as torch does, steps stay private)."""
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["sum"].share_memory_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Performs one optimization step (spec R1, R23).

        Args:
            closure: re-evaluates the model and returns the loss; called once, with grad
                enabled.

        Returns:
            The closure's return value, or None without a closure.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with torch.set_grad_enabled(bool(self.defaults["differentiable"])):
            for group in self.param_groups:
                self._step_group(group)
        return loss

    def _step_group(self, group: dict[str, Any]) -> None:
        params, grads, sums, steps = [], [], [], []
        # ids of parameters already checked for the fused path (kept out of the state_dict;
        # created here so that unpickled optimizers have it too)
        fused_checked: set[int] = self.__dict__.setdefault("_fused_checked", set())
        has_sparse_grad = has_complex = False
        for p in group["params"]:
            if p.grad is None:
                continue  # spec R15: no gradient, no step
            state = self.state[p]
            if not state:
                self._init_state(p, group)
            if group["fused"] and id(p) not in fused_checked:
                # Checked once per parameter, not at every step (torch, too, checks once).
                devices = fused_devices()
                if p.device.type not in devices or not torch.is_floating_point(p):
                    raise RuntimeError(
                        "`fused=True` requires all the params to be floating point Tensors of "
                        f"supported devices: {list(devices)} but {p.dtype} and {p.device.type}"
                    )
                fused_checked.add(id(p))
            params.append(p)
            grads.append(p.grad)
            sums.append(state["sum"])
            steps.append(state["step"])
            has_sparse_grad |= p.grad.is_sparse
            has_complex |= torch.is_complex(p)
        adagrad(
            params, grads, sums, steps,
            lr=group["lr"], weight_decay=group["weight_decay"], lr_decay=group["lr_decay"],
            eps=group["eps"], maximize=group["maximize"], foreach=group["foreach"],
            fused=group["fused"], differentiable=group["differentiable"],
            has_sparse_grad=has_sparse_grad, has_complex=has_complex,
            grad_scale=getattr(self, "grad_scale", None),
            found_inf=getattr(self, "found_inf", None),
            fused_backend=self.fused_backend,
        )  # fmt: skip

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> None:
        """The one place state is created: step 0 and a sum filled with the group's τ."""
        self.state[p] = new_state(p, group)
