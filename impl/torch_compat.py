"""``OptimizerBase``: ``torch.optim.Optimizer`` with what older torch versions lack of its API.

:class:`~adagrad.impl.Adagrad` has torch 2.13's API on every torch it supports (>= 2.0). Where
the running torch's ``Optimizer`` already has a feature, it is torch's own code that serves it;
this module only fills the gaps, measured on torch 2.0.1:

- the four state_dict hook registrations (``register_state_dict_pre_hook``,
  ``register_state_dict_post_hook``, ``register_load_state_dict_pre_hook``,
  ``register_load_state_dict_post_hook``, each with ``prepend``; torch >= 2.1) and their calls
  in ``state_dict`` and ``load_state_dict``;
- the step-hook wrapper's error for a pre-hook that returns neither None nor ``(args, kwargs)``:
  torch 2.0 writes ``"...(new_args, new_kwargs),but got ..."``, later versions put a space after
  the comma; on torch < 2.1 the wrapper below (the same steps as torch's) raises the later text.

(``add_param_group``'s ``TypeError`` for a non-dict group, an ``AssertionError`` on torch 2.0, is
raised by the optimizer itself on every torch.)
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable
from itertools import chain
from typing import Any

import torch
import torch.optim.optimizer as torch_optimizer
from torch.utils.hooks import RemovableHandle

__all__ = ["HAS_STATE_DICT_HOOKS", "OLD_STEP_HOOK_MESSAGE", "OptimizerBase"]

#: Whether this torch's Optimizer has the state_dict hooks (torch >= 2.1).
HAS_STATE_DICT_HOOKS = hasattr(torch.optim.Optimizer, "register_state_dict_pre_hook")
#: Whether this torch's step wrapper writes the old message (torch < 2.1).
OLD_STEP_HOOK_MESSAGE = torch.__version__ < "2.1"


def _register(hooks: OrderedDict[int, Callable[..., Any]], hook: Callable[..., Any], prepend: bool) -> RemovableHandle:
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


class _StateDictHooks(torch.optim.Optimizer):
    """The state_dict hooks of torch >= 2.1, for a torch whose Optimizer lacks them.

    The hooks live in the instance's ``__dict__`` under torch's own attribute names, made on
    first use (so deep copies and unpickled optimizers start without hooks, as in torch).
    """

    def _hooks(self, name: str) -> OrderedDict[int, Callable[..., Any]]:
        return self.__dict__.setdefault(name, OrderedDict())

    def register_state_dict_pre_hook(self, hook: Callable[..., None], prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer) -> None``, called before :meth:`state_dict` builds the dict."""
        return _register(self._hooks("_optimizer_state_dict_pre_hooks"), hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable[..., Any], prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer, state_dict) -> state_dict or None``; a returned dict replaces it."""
        return _register(self._hooks("_optimizer_state_dict_post_hooks"), hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable[..., Any], prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer, state_dict) -> state_dict or None``; a returned dict is loaded."""
        return _register(self._hooks("_optimizer_load_state_dict_pre_hooks"), hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable[..., None], prepend: bool = False) -> RemovableHandle:
        """``hook(optimizer) -> None``, called after :meth:`load_state_dict` loaded the dict."""
        return _register(self._hooks("_optimizer_load_state_dict_post_hooks"), hook, prepend)

    def state_dict(self) -> dict[str, Any]:
        for pre_hook in self._hooks("_optimizer_state_dict_pre_hooks").values():
            pre_hook(self)
        state_dict = super().state_dict()
        for post_hook in self._hooks("_optimizer_state_dict_post_hooks").values():
            result = post_hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = state_dict.copy()  # shallow, as torch: a hook's edits stay out of the caller's dict
        for pre_hook in self._hooks("_optimizer_load_state_dict_pre_hooks").values():
            result = pre_hook(self, state_dict)
            if result is not None:
                state_dict = result
        super().load_state_dict(state_dict)
        for post_hook in self._hooks("_optimizer_load_state_dict_post_hooks").values():
            post_hook(self)


def _profile_hook_step(func: Callable[..., Any]) -> Callable[..., Any]:
    """torch's step wrapper (profiler range, global then instance pre-hooks, the step, instance
    then global post-hooks), raising torch >= 2.1's message for a bad pre-hook return."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        self = args[0]
        with torch.autograd.profiler.record_function(f"Optimizer.step#{self.__class__.__name__}.step"):
            pre_hooks = chain(
                torch_optimizer._global_optimizer_pre_hooks.values(), self._optimizer_step_pre_hooks.values()
            )
            for pre_hook in pre_hooks:
                result = pre_hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            f"{func} must return None or a tuple of (new_args, new_kwargs), but got {result}."
                        )
                    args, kwargs = result
            out = func(*args, **kwargs)
            self._optimizer_step_code()
            post_hooks = chain(
                self._optimizer_step_post_hooks.values(), torch_optimizer._global_optimizer_post_hooks.values()
            )
            for post_hook in post_hooks:
                post_hook(self, args, kwargs)
            return out

    return wrapper


_base: type[torch.optim.Optimizer] = torch.optim.Optimizer if HAS_STATE_DICT_HOOKS else _StateDictHooks
if OLD_STEP_HOOK_MESSAGE:

    class _StepHookMessage(_base):  # type: ignore[valid-type, misc]
        # Optimizer.__init__ wraps the subclass's step with self.profile_hook_step: this one.
        profile_hook_step = staticmethod(_profile_hook_step)

    _base = _StepHookMessage

#: The base class of adagrad.impl.Adagrad: torch.optim.Optimizer itself on a torch that lacks nothing.
OptimizerBase: type[torch.optim.Optimizer] = _base
