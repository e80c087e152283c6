"""An optimizer over a training run's life: copied, pickled, saved and loaded mid-run (R18).

A stepped optimizer that is deep-copied or pickled, or whose state_dict goes through
``torch.save`` / ``torch.load(weights_only=True)``, must go on exactly as the uninterrupted run
does; a state_dict written by an older torch (groups without ``maximize``, ``foreach``,
``differentiable`` or ``fused``: torch 2.0-2.3 wrote no ``fused``) must load, get torch's values
for the missing keys (False for ``maximize``) and resume. The target is compared with itself
(same path, same process), so the results must be bitwise equal.
"""

from __future__ import annotations

import copy
import io
import pickle
from collections.abc import Callable
from typing import Any

import pytest
import torch

from adagrad.conformance.engine.harness import torch_layout_required
from adagrad.conformance.engine.strategies import path_params
from adagrad.conformance.features import feature

pytestmark = feature("lifecycle")

HYPER = dict(lr=0.2)  # the lr only: the other hyperparameters are their own features' subject
SPLIT, STEPS = 2, 5

#: Group keys torch added after 2.0 or shortly before, with the value torch gives a loaded group
#: that lacks them (torch.optim.Adagrad.__setstate__).
ADDED_KEYS = {"foreach": None, "maximize": False, "differentiable": False, "fused": None}


def _params(seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(3, 4, dtype=torch.float64, generator=gen).requires_grad_(),
            torch.randn(37, dtype=torch.float64, generator=gen).requires_grad_()]  # fmt: skip


def _run(opt: Any, params: list[torch.Tensor], steps: range) -> None:
    for k in steps:
        gen = torch.Generator().manual_seed(100 + k)
        for p in params:
            p.grad = torch.randn(p.shape, dtype=p.dtype, generator=gen)
        opt.step()


def _uninterrupted(target: Any, options: dict[str, Any]) -> list[torch.Tensor]:
    params = _params()
    _run(target.make(params, **HYPER, **options), params, range(STEPS))
    return [p.detach() for p in params]


def _assert_equal(got: list[torch.Tensor], want: list[torch.Tensor], what: str) -> None:
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        g = g.detach()
        assert torch.equal(g, w), (
            f"{what}: param {i} differs from the uninterrupted run "
            f"(max |diff| {(g - w).abs().max().item():.3g}, {(g != w).sum().item()} of {w.numel()} elements)"
        )


def _copy_by_pickle(opt: Any) -> Any:
    return pickle.loads(pickle.dumps(opt))


ROUND_TRIPS = [pytest.param(copy.deepcopy, id="deepcopy"), pytest.param(_copy_by_pickle, id="pickle")]


@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("round_trip", ROUND_TRIPS)
def test_copied_optimizer_continues_the_run(
    target: Any, round_trip: Callable[[Any], Any], options: dict[str, Any]
) -> None:
    """A deep copy (or pickle round trip) of a stepped optimizer, with its own copies of the
    parameters, steps on exactly as the uninterrupted run; the original is not touched."""
    params = _params()
    opt = target.make(params, **HYPER, **options)
    _run(opt, params, range(SPLIT))
    at_split = [p.detach().clone() for p in params]
    twin, twin_params = round_trip((opt, params))  # together, as a training loop's checkpoint copies them
    assert len(twin_params) == len(params) and all(a is not b for a, b in zip(twin_params, params)), (
        "the copy must hold its own copies of the parameters"
    )
    _run(twin, twin_params, range(SPLIT, STEPS))
    _assert_equal(twin_params, _uninterrupted(target, options), round_trip.__name__.strip("_"))
    _assert_equal(params, at_split, "the original after its copy stepped")


@pytest.mark.spec("R18")
@pytest.mark.parametrize("options", path_params())
def test_state_dict_through_torch_save_weights_only(target: Any, options: dict[str, Any]) -> None:
    """R18: a state_dict saved with torch.save and read back with torch.load(weights_only=True)
    (the safe loader, torch's default since 2.6) loads into a fresh optimizer that resumes the
    run exactly."""
    params = _params()
    opt = target.make(params, **HYPER, **options)
    _run(opt, params, range(SPLIT))
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    resumed = [p.detach().clone().requires_grad_() for p in params]
    fresh = target.make(resumed, lr=0.9)  # hyperparameters come from the saved groups
    fresh.load_state_dict(loaded)
    _run(fresh, resumed, range(SPLIT, STEPS))
    _assert_equal(resumed, _uninterrupted(target, options), "after torch.save/torch.load")


OLD_LAYOUTS = [
    pytest.param(("fused",), id="torch2.0-2.3-no-fused"),
    pytest.param(("differentiable", "fused"), id="no-differentiable-no-fused"),
    pytest.param(("foreach", "maximize", "differentiable", "fused"), id="no-foreach-maximize-differentiable-fused"),
    pytest.param(("maximize",), id="no-maximize"),
]


@pytest.mark.spec("R18")
@pytest.mark.parametrize("dropped", OLD_LAYOUTS)
def test_older_state_dict_layouts_load_and_resume(target: Any, dropped: tuple[str, ...]) -> None:
    """R18: a state_dict whose groups lack keys torch added over time loads, the missing keys
    get torch's values (maximize False), and the run resumes exactly (default path: the saved
    run used the values the loader fills in)."""
    torch_layout_required(target, "torch's older state_dict layouts")
    params = _params()
    opt = target.make(params, **HYPER)
    _run(opt, params, range(SPLIT))
    saved = copy.deepcopy(opt.state_dict())
    for group in saved["param_groups"]:
        for key in dropped:
            group.pop(key, None)
    resumed = [p.detach().clone().requires_grad_() for p in params]
    fresh = target.make(resumed, lr=0.9)
    fresh.load_state_dict(saved)
    group = fresh.state_dict()["param_groups"][0]
    for key in dropped:
        if key == "maximize" or key in group:  # R17 requires maximize; the others where kept
            assert group.get(key) == ADDED_KEYS[key], (
                f"a loaded group without {key!r} must get torch's {ADDED_KEYS[key]!r}, got {group.get(key)!r}"
            )
    _run(fresh, resumed, range(SPLIT, STEPS))
    _assert_equal(resumed, _uninterrupted(target, {}), f"after loading a state_dict without {list(dropped)}")
