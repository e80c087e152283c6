"""Every update path of ``adagrad.impl`` has the one signature :class:`adagrad.impl.path.UpdatePath`
(issue 17): names, kinds, annotations and (no) defaults, parameter for parameter."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from adagrad.impl import functional
from adagrad.impl.for_loop import for_loop_adagrad
from adagrad.impl.foreach import foreach_adagrad
from adagrad.impl.fused_cpu import fused_cpu_adagrad
from adagrad.impl.path import UpdatePath
from adagrad.impl.triton_kernel import fused_triton_adagrad

PATHS = [for_loop_adagrad, foreach_adagrad, fused_cpu_adagrad, fused_triton_adagrad]


def _protocol_signature() -> inspect.Signature:
    """UpdatePath.__call__ without ``self``, annotations evaluated."""
    sig = inspect.signature(UpdatePath.__call__, eval_str=True)
    return sig.replace(parameters=list(sig.parameters.values())[1:])


def test_protocol_is_the_path_signature() -> None:
    """The protocol has the four tensor lists positional, every option keyword-only, no defaults."""
    params = list(_protocol_signature().parameters.values())
    assert [p.name for p in params[:4]] == ["params", "grads", "state_sums", "state_steps"]
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params[:4])
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[4:])
    assert all(p.default is inspect.Parameter.empty for p in params)


@pytest.mark.parametrize("path", PATHS, ids=lambda f: f.__name__)
def test_every_path_has_the_protocol_signature(path: Callable[..., Any]) -> None:
    assert inspect.signature(path, eval_str=True) == _protocol_signature()


def test_the_dispatcher_takes_the_path_arguments() -> None:
    """functional.adagrad passes the path arguments through: each is one of its parameters with the
    same kind and annotation (it adds defaults and its own choices: foreach, fused, fused_backend)."""
    outer = inspect.signature(functional.adagrad, eval_str=True).parameters
    for name, param in _protocol_signature().parameters.items():
        assert name in outer, name
        assert (outer[name].kind, outer[name].annotation) == (param.kind, param.annotation), name
    assert set(outer) - set(_protocol_signature().parameters) == {"foreach", "fused", "fused_backend"}
