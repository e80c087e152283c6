"""state_dict / load_state_dict (R14, R17, R18): format, resume, interchange with torch."""

from __future__ import annotations

import copy
import io

import numpy as np
import pytest
import torch

from adagrad.conformance.features import feature
from adagrad.conformance.harness import Case, compare_arrays, run_oracle, to_numpy

pytestmark = feature("state-dict")

HYPER = dict(lr=0.2, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.25, eps=1e-6)
GROUP_KEYS = {"lr", "lr_decay", "eps", "weight_decay", "initial_accumulator_value", "maximize", "params"}


def _params(seed: int = 0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(3, 2, dtype=dtype, generator=gen).requires_grad_(), torch.randn(5, dtype=dtype, generator=gen).requires_grad_()]


def _grads(k: int, params):
    gen = torch.Generator().manual_seed(100 + k)
    return [torch.randn(p.shape, dtype=p.dtype, generator=gen) for p in params]


def _run(opt, params, steps: range) -> None:
    for k in steps:
        for p, g in zip(params, _grads(k, params)):
            p.grad = g
        opt.step()


def test_eager_state_and_format(target):
    """R14/R17: state exists from construction; ids 0..n-1 in group order; step 0-dim; sum like param."""
    params = _params()
    opt = target.make(params, **HYPER)
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sorted(sd["state"]) == [0, 1], f"state ids {sorted(sd['state'])} before any step"
    group = sd["param_groups"][0]
    assert GROUP_KEYS <= set(group), f"group lacks {GROUP_KEYS - set(group)}"
    assert group["params"] == [0, 1]
    for i, p in enumerate(params):
        st = sd["state"][i]
        assert torch.is_tensor(st["step"]) and st["step"].dim() == 0 and float(st["step"]) == 0.0
        assert st["sum"].shape == p.shape and st["sum"].dtype == p.dtype
        assert torch.all(st["sum"] == HYPER["initial_accumulator_value"])
    _run(opt, params, range(3))
    sd = opt.state_dict()
    assert [float(sd["state"][i]["step"]) for i in range(2)] == [3.0, 3.0]


def test_state_dict_is_serialisable(target):
    """R17: the state_dict survives torch.save / torch.load."""
    params = _params()
    opt = target.make(params, **HYPER)
    _run(opt, params, range(2))
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    assert torch.equal(loaded["state"][1]["sum"], opt.state_dict()["state"][1]["sum"])


@pytest.mark.parametrize("split", [1, 3])
def test_resume_equals_uninterrupted(target, split):
    """R18: save after `split` steps, load into a fresh optimizer, continue: identical results."""
    a = _params()
    opt_a = target.make(a, **HYPER)
    _run(opt_a, a, range(5))

    b = _params()
    opt_b = target.make(b, **HYPER)
    _run(opt_b, b, range(split))
    saved = copy.deepcopy(opt_b.state_dict())
    c = [p.detach().clone().requires_grad_() for p in b]
    opt_c = target.make(c, lr=0.9)  # hyperparameters must come from the saved groups
    opt_c.load_state_dict(saved)
    _run(opt_c, c, range(split, 5))
    for pa, pc in zip(a, c):
        assert torch.equal(pa.detach(), pc.detach()), f"resumed run differs: max |diff| {(pa - pc).abs().max().item()}"


def _interchange(target, src_factory, dst_factory):
    """Run 3 steps with src, load its state_dict into dst, run 2 more; compare with the oracle."""
    params = _params(seed=5)
    src = src_factory(params, **HYPER)
    _run(src, params, range(3))
    saved = copy.deepcopy(src.state_dict())
    moved = [p.detach().clone().requires_grad_() for p in params]
    dst = dst_factory(moved, lr=0.9)
    dst.load_state_dict(saved)
    start = [(to_numpy(saved["state"][i]["sum"]), int(float(saved["state"][i]["step"]))) for i in range(2)]
    grads = [[to_numpy(g) for g in _grads(k, moved)] for k in range(3, 5)]
    case = Case(dtype="float64", params=[to_numpy(p) for p in moved], grads=grads, groups=[{**HYPER, "maximize": False, "params": [0, 1]}], start=start)
    _run(dst, moved, range(3, 5))
    *_, (want, want_sums, want_steps, bounds, sum_bounds) = list(run_oracle(case))
    for i, p in enumerate(moved):
        _, problem = compare_arrays(to_numpy(p), want[i], bounds[i], "float64")
        assert problem is None, f"param {i} after resuming: {problem}"
        assert int(float(dst.state_dict()["state"][i]["step"])) == want_steps[i]


def test_torch_state_loads_into_target(target):
    """R18: a state_dict saved by torch.optim.Adagrad loads into the target and resumes correctly."""
    _interchange(target, torch.optim.Adagrad, target.make)


def test_target_state_loads_into_torch(target):
    """R18: the target's state_dict loads into torch.optim.Adagrad and resumes correctly."""
    _interchange(target, target.make, torch.optim.Adagrad)


def test_load_rejects_wrong_group_count(target):
    """R18: ValueError: loaded state dict has a different number of parameter groups."""
    opt = target.make([torch.zeros(2, requires_grad=True)])
    other = target.make([{"params": [torch.zeros(2, requires_grad=True)]}, {"params": [torch.zeros(2, requires_grad=True)]}])
    with pytest.raises(ValueError, match="loaded state dict has a different number of parameter groups"):
        opt.load_state_dict(other.state_dict())


def test_load_rejects_wrong_group_size(target):
    """R18: ValueError: loaded state dict contains a parameter group that doesn't match the size..."""
    opt = target.make([torch.zeros(2, requires_grad=True)])
    other = target.make([torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)])
    with pytest.raises(ValueError, match="loaded state dict contains a parameter group that doesn't match the size of optimizer's group"):
        opt.load_state_dict(other.state_dict())


def test_load_casts_sum_to_param_dtype(target):
    """R18: a float64 sum loads into a float32 parameter's state as float32."""
    src = target.make([torch.zeros(3, dtype=torch.float64, requires_grad=True)], initial_accumulator_value=0.5)
    p = torch.zeros(3, dtype=torch.float32, requires_grad=True)
    dst = target.make([p])
    dst.load_state_dict(copy.deepcopy(src.state_dict()))
    p.grad = torch.ones(3)
    dst.step()
    s = dst.state_dict()["state"][0]["sum"]
    assert s.dtype == torch.float32
    np.testing.assert_array_equal(to_numpy(s), np.full(3, 1.5))
