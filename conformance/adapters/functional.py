"""The functional protocol, and the bridge that runs such an implementation under the suite.

An implementation is any object with (see :class:`FunctionalAdagrad`)::

    features: Collection[str]                              # the suite features it claims
    init(params, hyperparameters) -> state
    step(state, params, grads) -> (params, state)
    accumulators(state) -> list[np.ndarray]                # the sum ("s") of each parameter

over NumPy arrays of the parameters' dtype (bfloat16 as ``ml_dtypes.bfloat16``), with torch's
hyperparameter names. Optional methods widen what can be checked: ``load(state, sums, steps)``
(teacher-forced numerics start from a given state), ``step_counts(state)`` (the step count ``t``
of each parameter, if it keeps one; otherwise the bridge counts steps with a gradient), and
``set_hyperparameters(state, hyperparameters)`` (hyperparameters changed between steps).

:func:`bridge` turns such an object into a target factory with torch's Optimizer API
(``param_groups``, ``step``, ``state_dict``, ``load_state_dict``, ``add_param_group``), so the
suite's harness runs it unchanged. Each param group gets its own ``init``: a group is a
separate optimizer of the library, as its users would write it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from adagrad.conformance.adapters.base import AdapterError, Unsupported, signal_unsupported

__all__ = [
    "FunctionalAdagrad",
    "FunctionalOptimizer",
    "HYPERPARAMETERS",
    "TORCH_DEFAULTS",
    "bridge",
    "check_protocol",
    "numpy_dtype",
]

#: torch's defaults; the keys are the hyperparameters an implementation receives.
TORCH_DEFAULTS: dict[str, Any] = {
    "lr": 0.01,
    "lr_decay": 0.0,
    "weight_decay": 0.0,
    "initial_accumulator_value": 0.0,
    "eps": 1e-10,
    "maximize": False,
}
HYPERPARAMETERS = tuple(TORCH_DEFAULTS)
#: Constructor options of torch's paths: only their default values can be honoured.
_PATH_OPTIONS = ("foreach", "fused", "differentiable", "capturable")


@runtime_checkable
class FunctionalAdagrad(Protocol):
    """An Adagrad as pure functions over NumPy arrays.

    Attributes:
        features: names from :data:`~adagrad.conformance.features.FEATURES` it claims; those
            outside :data:`~adagrad.conformance.adapters.CLAIMABLE` are ignored.

    ``init`` receives the parameters of one group and ``{"lr", "lr_decay", "weight_decay",
    "initial_accumulator_value", "eps", "maximize"}`` with torch's meaning; it must raise
    :class:`~adagrad.conformance.adapters.Unsupported` for a value it cannot express (never
    approximate it). ``step`` receives the current parameters and one gradient per parameter
    (None: no gradient this step) and returns the new parameters, in the parameters' dtype.
    """

    features: Collection[str]

    def init(self, params: Sequence[np.ndarray], hyperparameters: Mapping[str, Any]) -> Any:
        """The optimizer state for ``params`` (any object)."""
        ...

    def step(
        self, state: Any, params: Sequence[np.ndarray], grads: Sequence[np.ndarray | None]
    ) -> tuple[list[np.ndarray], Any]:
        """One Adagrad step: ``(new_params, new_state)``."""
        ...

    def accumulators(self, state: Any) -> list[np.ndarray]:
        """The accumulated squared gradients (torch's ``sum``), one array per parameter."""
        ...


def check_protocol(impl: Any, name: str) -> None:
    """Raise :class:`AdapterError` naming what ``impl`` lacks of :class:`FunctionalAdagrad`."""
    missing = [m for m in ("init", "step", "accumulators") if not callable(getattr(impl, m, None))]
    if missing or not hasattr(impl, "features"):
        what = ", ".join(missing + ([] if hasattr(impl, "features") else ["features"]))
        raise AdapterError(f"{name} does not follow the functional protocol: it has no {what} (see docs/protocols.md)")


def numpy_dtype(torch_dtype: Any) -> np.dtype:
    """The NumPy dtype an implementation receives for a torch dtype (the suite's dtype table,
    :func:`adagrad.conformance.engine.dtypes.numpy_dtype`; bfloat16: ``ml_dtypes``')."""
    from adagrad.conformance.engine.dtypes import numpy_dtype as table_dtype

    try:
        return table_dtype(str(torch_dtype).removeprefix("torch."))
    except ValueError:
        raise Unsupported(f"{torch_dtype} parameters") from None


def _to_numpy(t: Any, dtype: np.dtype) -> np.ndarray:
    """A tensor's values as a NumPy array of ``dtype`` (exact: the values are already in it)."""
    import torch

    t = t.detach().to("cpu")
    if t.dtype == torch.bfloat16:
        return t.float().numpy().astype(dtype)
    return t.numpy().astype(dtype, copy=True)


def _to_torch(x: np.ndarray, like: Any) -> Any:
    import torch

    x = np.asarray(x)
    if x.dtype.name == "bfloat16":  # torch cannot read ml_dtypes arrays; float32 holds them exactly
        x = x.astype(np.float32)
    return torch.from_numpy(np.array(x, order="C")).to(like.dtype)  # ascontiguousarray makes 0-d arrays 1-d


class FunctionalOptimizer:
    """torch's Optimizer API around a :class:`FunctionalAdagrad` (what :func:`bridge` builds).

    Every limit of the implementation (a hyperparameter, a dtype, sparse gradients, a path
    option) is signalled as unsupported, never worked around.
    """

    def __init__(self, impl: FunctionalAdagrad, params: Any, **options: Any) -> None:
        self.impl = impl
        for name in _PATH_OPTIONS:
            if options.pop(name, None):
                self._unsupported(f"{name}=True (a torch path option)")
        unknown = set(options) - set(HYPERPARAMETERS)
        if unknown:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
        self.defaults = {**TORCH_DEFAULTS, **options}
        self.param_groups: list[dict[str, Any]] = []
        self._states: list[Any] = []
        self._given: list[dict[str, Any]] = []  # the hyperparameters each state was built with
        self._steps: list[list[int]] = []
        self._accepted: set[Any] = set()  # kinds of step the implementation has taken
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    # -- helpers ------------------------------------------------------------------------------
    def _unsupported(self, reason: str) -> None:
        signal_unsupported(reason)

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except Unsupported as exc:
            self._unsupported(str(exc))

    def _hyper(self, group: Mapping[str, Any]) -> dict[str, Any]:
        import torch

        hyper = {k: group[k] for k in HYPERPARAMETERS}
        if isinstance(hyper["lr"], torch.Tensor):
            self._unsupported("lr as a tensor (torch API)")
        return hyper

    def _arrays(self, group: Mapping[str, Any]) -> list[np.ndarray]:
        return [_to_numpy(p, self._dtype(p)) for p in group["params"]]

    def _dtype(self, p: Any) -> np.dtype:
        try:
            return numpy_dtype(p.dtype)
        except Unsupported as exc:
            self._unsupported(str(exc))
            raise  # not reached: signal_unsupported leaves the test

    # -- torch's Optimizer API ------------------------------------------------------------------
    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group with its own state (``init`` on its parameters)."""
        if not isinstance(group, dict):
            raise TypeError(f"param group must be a dict, got {type(group).__name__}")
        params = group["params"]
        params = [params] if hasattr(params, "dtype") else list(params)
        full = {**self.defaults, **{k: v for k, v in group.items() if k not in _PATH_OPTIONS}, "params": params}
        hyper = self._hyper(full)
        self._states.append(self._call(self.impl.init, self._arrays(full), dict(hyper)))
        self._given.append(hyper)
        self._steps.append([0] * len(params))
        self.param_groups.append(full)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One step of every group: read ``.grad``, call the implementation, write the params back."""
        import torch

        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for gi, group in enumerate(self.param_groups):
            hyper = self._hyper(group)
            if hyper != self._given[gi]:
                setter = getattr(self.impl, "set_hyperparameters", None)
                if setter is None:
                    self._unsupported(
                        "hyperparameters changed between steps (the implementation has no set_hyperparameters)"
                    )
                self._states[gi] = self._call(setter, self._states[gi], dict(hyper))
                self._given[gi] = hyper
            grads = []
            for p in group["params"]:
                if p.grad is not None and p.grad.is_sparse:
                    self._unsupported("sparse gradients")
                grads.append(None if p.grad is None else _to_numpy(p.grad, self._dtype(p)))
            arrays = self._arrays(group)
            kind = (tuple(sorted(hyper.items(), key=lambda kv: kv[0])), tuple(g is None for g in grads))
            try:
                new, self._states[gi] = self.impl.step(self._states[gi], arrays, grads)
            except Unsupported as exc:
                if kind in self._accepted:  # it took this very kind of step before: not a limitation
                    raise AssertionError(
                        f"step refused as unsupported ({exc}) after the implementation had "
                        "taken the same kind of step (same hyperparameters, same gradients "
                        "present): a refusal must come before any state changed"
                    ) from None
                self._unsupported(str(exc))
            self._accepted.add(kind)
            if len(new) != len(arrays):
                raise AssertionError(f"step returned {len(new)} parameters for {len(arrays)}")
            with torch.no_grad():
                for i, (p, old, x) in enumerate(zip(group["params"], arrays, new)):
                    x = np.asarray(x)
                    if x.dtype != old.dtype or x.shape != old.shape:
                        raise AssertionError(
                            f"param {i}: step returned {x.dtype} {x.shape} for a {old.dtype} {old.shape} parameter"
                        )
                    p.copy_(_to_torch(x, p))
                    if grads[i] is not None:
                        self._steps[gi][i] += 1
        return loss

    def _step_counts(self, gi: int) -> list[int]:
        counts = getattr(self.impl, "step_counts", None)
        return [int(t) for t in counts(self._states[gi])] if counts else list(self._steps[gi])

    @property
    def state(self) -> dict[Any, dict[str, Any]]:
        """Per parameter tensor: ``{"step", "sum"}``, as torch's ``optimizer.state``."""
        sd = self.state_dict()["state"]
        flat = [p for g in self.param_groups for p in g["params"]]
        return {p: sd[i] for i, p in enumerate(flat)}

    def state_dict(self) -> dict[str, Any]:
        """torch's format: ``state`` by id in group order, ``param_groups`` with ids."""
        import torch

        state: dict[int, dict[str, Any]] = {}
        groups = []
        sid = 0
        for gi, group in enumerate(self.param_groups):
            sums = self.impl.accumulators(self._states[gi])
            ids = []
            for _p, s, t in zip(group["params"], sums, self._step_counts(gi)):
                # the accumulator as the implementation holds it, in its own dtype
                held = np.array(s)
                total = (
                    torch.from_numpy(held.astype(np.float32)).to(
                        torch.bfloat16
                    )  # exact: NumPy has no bfloat16 for torch
                    if held.dtype.name == "bfloat16"
                    else torch.from_numpy(held)
                )
                state[sid] = {"step": torch.tensor(float(t)), "sum": total}
                ids.append(sid)
                sid += 1
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load sums and step counts (hyperparameters too); needs the implementation's ``load``."""
        load = getattr(self.impl, "load", None)
        if load is None:
            self._unsupported("starting from a given state (the implementation has no load)")
        saved = state_dict["state"]
        sid = 0
        for gi, group in enumerate(self.param_groups):
            sums, steps = [], []
            for p in group["params"]:
                entry = saved[sid]
                sums.append(_to_numpy(entry["sum"].to(p.dtype), self._dtype(p)))
                steps.append(int(float(entry["step"])))
                sid += 1
            self._states[gi] = self._call(load, self._states[gi], sums, steps)
            self._steps[gi] = steps
            for k, v in state_dict["param_groups"][gi].items():
                if k != "params":
                    group[k] = v


def bridge(impl: FunctionalAdagrad) -> Callable[..., FunctionalOptimizer]:
    """A target factory ``f(params, **hyperparameters)`` running ``impl`` behind torch's API."""

    def make(params: Any, **hyper: Any) -> FunctionalOptimizer:
        return FunctionalOptimizer(impl, params, **hyper)

    make.__name__ = f"bridge({type(impl).__name__})"
    return make
