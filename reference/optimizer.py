"""``ReferenceAdagrad``: a stateful model of the whole optimizer over NumPy arrays.

It models what the spec says about the optimizer as a whole rather than one tensor: param groups
with their own hyperparameters (R12, R13), state created at construction (R14), parameters
without a gradient skipped (R15), ``add_param_group`` (R16), ``state_dict`` /
``load_state_dict`` as plain data (R17, R18), ``zero_grad`` (R22), ``step(closure)`` (R23) and
torch's validation errors (R24). Each update is one call of the pure functions in
:mod:`adagrad.reference.functional`.

Example:
    >>> import numpy as np
    >>> w = Param(np.array([1.0, -1.0]))
    >>> opt = ReferenceAdagrad([w], lr=0.5, eps=0.0)
    >>> w.grad = np.array([2.0, -2.0])
    >>> _ = opt.step()
    >>> w.data.tolist(), opt.state[w]["step"]
    ([0.5, -0.5], 1)
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .functional import SparseGrad, adagrad_step, sparse_adagrad_step
from .validation import HYPERPARAMETERS, validate_hyperparameters

__all__ = ["Param", "ReferenceAdagrad"]

DUPLICATE_IN_GROUP_WARNING = (
    "optimizer contains a parameter group with duplicate parameters; in future, this will cause "
    "an error; see github.com/pytorch/pytorch/issues/40967 for more information"
)


class Param:
    """A parameter: ``data`` (float64 or complex128 array) and ``grad`` (array, SparseGrad or None)."""

    def __init__(self, data: Any, grad: np.ndarray | SparseGrad | None = None) -> None:
        arr = np.asarray(data)
        self.data = arr.astype(np.complex128 if np.iscomplexobj(arr) else np.float64, copy=True)
        self.grad = grad

    def __repr__(self) -> str:
        return f"Param({self.data!r})"


class ReferenceAdagrad:
    """The optimizer as the spec defines it, with torch's constructor and API.

    Args:
        params: an iterable of :class:`Param`, or of dicts with a ``"params"`` list and any
            per-group hyperparameters.
        lr, lr_decay, weight_decay, initial_accumulator_value, eps, maximize: the defaults
            for every group (spec R3-R7); ``lr`` may be a 1-element array (R8).
    """

    def __init__(
        self,
        params: Iterable[Param] | Iterable[dict[str, Any]],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        self.defaults = validate_hyperparameters(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            maximize=maximize,
        )
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Param, dict[str, Any]] = {}
        if isinstance(params, (Param, np.ndarray)):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                f"but got {type(params).__name__}"
            )
        # A top-level set is accepted, as torch 2.13 does (only a group's "params" set is refused).
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # -- groups and state ---------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group; its params get state now, with the group's own tau (R13, R16)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Param):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the ordering "
                "of tensors in sets will change between runs. Please use a list instead."
            )
        params = list(params)
        for p in params:
            if not isinstance(p, Param):
                raise TypeError(f"optimizer can only optimize Params, but one of the params is {type(p).__name__}")
        if len({id(p) for p in params}) != len(params):
            warnings.warn(DUPLICATE_IN_GROUP_WARNING, stacklevel=3)
        group["params"] = params
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing & {id(p) for p in params}:
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)
        for p in params:
            self._init_state(p, group)

    def _init_state(self, p: Param, group: dict[str, Any]) -> None:
        """The one place state is created: step 0, sum filled with the group's tau (R6, R11, R14)."""
        tau = float(group["initial_accumulator_value"])
        fill = complex(tau, tau) if np.iscomplexobj(p.data) else tau
        self.state[p] = {"step": 0, "sum": np.full(p.data.shape, fill, dtype=p.data.dtype)}

    # -- the update ---------------------------------------------------------------------------
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient (R15); return ``closure()`` if given (R23)."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            hyper = {name: group[name] for name in ("lr_decay", "weight_decay", "eps", "maximize")}
            hyper["lr"] = float(np.asarray(group["lr"]).reshape(()))
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                fn = sparse_adagrad_step if isinstance(p.grad, SparseGrad) else adagrad_step
                p.data, state["sum"], state["step"] = fn(p.data, p.grad, state["sum"], state["step"], **hyper)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Set every gradient to None, or to zeros with ``set_to_none=False`` (R22)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.grad = None if set_to_none else np.zeros_like(p.data)

    # -- serialisation ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain data: ``{"state": {id: {"step": int, "sum": array}}, "param_groups": [...]}`` (R17).

        Parameter ids number the parameters in group order; every value is a copy.
        """
        ids: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [ids.setdefault(id(p), len(ids)) for p in group["params"]]
            groups.append(packed)
        state = {
            ids[id(p)]: {"step": s["step"], "sum": s["sum"].copy()}
            for group in self.param_groups
            for p in group["params"]
            for s in [self.state[p]]
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load hyperparameters and state saved by :meth:`state_dict` (R18)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(s["params"]) != len(g["params"]) for s, g in zip(saved_groups, self.param_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of optimizer's group"
            )
        saved_state = state_dict["state"]
        for saved, group in zip(saved_groups, self.param_groups):
            for name in HYPERPARAMETERS:
                if name in saved:
                    group[name] = copy.deepcopy(saved[name])
            for pid, p in zip(saved["params"], group["params"]):
                if pid in saved_state:
                    entry = saved_state[pid]
                    self.state[p] = {
                        "step": int(entry["step"]),
                        "sum": np.asarray(entry["sum"]).astype(p.data.dtype, copy=True),
                    }
                else:
                    self._init_state(p, group)
