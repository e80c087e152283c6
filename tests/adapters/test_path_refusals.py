"""Spec R27 and refusals: where torch refuses a path (``foreach``/``fused`` with
``differentiable``, ``fused`` with complex params), a target that does not offer what is asked
on *any* path (it refuses it on the plain path too, the same way) is unsupported there as well,
not a failure for wording its refusal otherwise than torch; a target that refuses only on that
path keeps being judged against torch's refusal."""

from __future__ import annotations

import numpy as np
import pytest

from adagrad.conformance.adapters.base import take_unsupported
from adagrad.conformance.engine.harness import Case
from adagrad.conformance.engine.strategies import check_or_refused
from adagrad.conformance.engine.target import Target
from adagrad.conformance.engine.target_spec import attach

from . import torch_api_targets as tt
from .adapter_helpers import HYPER


def _case(dtype: str, **options) -> Case:
    rng = np.random.default_rng(3)
    params = [rng.uniform(-2, 2, 4)]
    grads = [[rng.uniform(-1, 1, 4)] for _ in range(2)]
    if dtype.startswith("complex"):
        params = [params[0] + 1j * rng.uniform(-2, 2, 4)]
        grads = [[g[0] - 0.5j * g[0]] for g in grads]
    return Case(dtype=dtype, params=params, grads=grads, groups=[{**HYPER, "params": [0]}], options=options)


DIFFERENTIABLE = [dict(differentiable=True, foreach=True), dict(differentiable=True, fused=True)]
CASES = [
    (tt.NoDifferentiable, "float64", options, "differentiable", "not supported by this Adagrad")
    for options in DIFFERENTIABLE
] + [(tt.NoComplex, "complex128", dict(fused=True), "complex", "complex parameters are not supported")]


@pytest.mark.parametrize(("cls", "dtype", "options", "needs", "message"), CASES)
def test_refused_on_every_path_is_unsupported_where_torch_refuses_too(cls, dtype, options, needs, message):
    target = attach(Target(cls.__name__, cls))
    take_unsupported()
    with pytest.raises(pytest.skip.Exception, match=f"unsupported: .*{message}"):
        check_or_refused(target, _case(dtype, **options), None, what=needs, needs=needs)
    plain = {k: v for k, v in options.items() if k not in ("foreach", "fused")}
    with pytest.raises(pytest.skip.Exception, match=f"unsupported: .*{message}"):  # the plain path: the same
        check_or_refused(target, _case(dtype, **plain), None, what=needs, needs=needs)


@pytest.mark.parametrize(
    ("cls", "dtype", "options", "needs"),
    [
        (tt.DifferentiableForeachOwnWording, "float64", dict(differentiable=True, foreach=True), "differentiable"),
        (tt.ComplexFusedOwnWording, "complex128", dict(fused=True), "complex"),
    ],
)
def test_refused_on_that_path_only_is_judged_against_torch(cls, dtype, options, needs):
    target = attach(Target(cls.__name__, cls))
    with pytest.raises(Exception, match="not supported") as excinfo:  # a failure (a skip would escape this)
        check_or_refused(target, _case(dtype, **options), None, what=needs, needs=needs)
    assert not isinstance(excinfo.value, pytest.skip.Exception)
    plain = {k: v for k, v in options.items() if k not in ("foreach", "fused")}
    assert check_or_refused(target, _case(dtype, **plain), None, what=needs, needs=needs) == "computed"
