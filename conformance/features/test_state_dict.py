"""state_dict / load_state_dict (R14, R17, R18), on every path: format, resume, interchange with
torch, every hyperparameter restored.

Handovers run through :func:`~adagrad.conformance.engine.harness.check_case`: a stand-in optimizer
runs the first optimizer for some steps, then saves its state_dict, loads it into a second one
(constructed with other values) and carries on with it, so params *and* sums are compared with
the oracle at every step of the whole run, before and after the handover.
"""

from __future__ import annotations

import copy
import dataclasses
import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from adagrad.conformance.engine.harness import Case, check_case, target_state, to_numpy, torch_layout_required
from adagrad.conformance.engine.strategies import cases, lr_only, path_params
from adagrad.conformance.features import feature

pytestmark = feature("state-dict")

GROUP_KEYS = {"lr", "lr_decay", "eps", "weight_decay", "initial_accumulator_value", "maximize", "params"}


class _Handover:
    """Steps with ``first`` until ``at`` steps are done, then moves to ``second`` by state_dict."""

    def __init__(self, first: Any, make_second: Callable[[], Any], at: int):
        self.current, self._make_second, self._at, self._done = first, make_second, at, 0

    def step(self, closure: Any = None) -> Any:
        if self._done == self._at:
            saved = copy.deepcopy(self.current.state_dict())
            self.current = self._make_second()
            self.current.load_state_dict(saved)
        self._done += 1
        return self.current.step(closure)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.current, name)


def handover(first: Callable[..., Any], second: Callable[..., Any], at: int, **second_hyper: Any) -> Callable[..., Any]:
    """A factory: ``first(params, **hyper)`` for ``at`` steps, then ``second(params, **second_hyper)``
    with the first's state_dict loaded."""

    def factory(params: Any, **hyper: Any) -> Any:
        return _Handover(first(params, **hyper), lambda: second(params, **second_hyper), at)

    return factory


def _torch_adagrad(params: Any, **hyper: Any) -> Any:
    """torch.optim.Adagrad, on its default path for the interchange (the target takes the path)."""
    return torch.optim.Adagrad(params, **{k: v for k, v in hyper.items() if k not in ("foreach", "fused")})


DIRECTIONS = ["target-to-target", "torch-to-target", "target-to-torch"]


@pytest.mark.spec("R18")
@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("direction", DIRECTIONS)
@given(data=st.data())
def test_handover_matches_uninterrupted_run(target, record_ulps, direction, options, data):
    """Save after some steps, load into a fresh optimizer (target or torch.optim.Adagrad,
    constructed with another lr), continue: every step's params and sums as in one run."""
    if direction != "target-to-target":
        torch_layout_required(target, "a state_dict interchanged with torch.optim.Adagrad")
    case = data.draw(
        cases(
            dtype=data.draw(st.sampled_from(["float64", "float32"])),
            hyper=lr_only(),
            steps=(2, 6),
            n_params=(1, 3),
            options=options,
        )
    )
    at = data.draw(st.integers(1, len(case.grads) - 1))
    first = _torch_adagrad if direction == "torch-to-target" else target.make
    second = _torch_adagrad if direction == "target-to-torch" else target.make
    factory = handover(first, second, at, lr=0.9, **options)
    check_case(dataclasses.replace(target, factory=factory), case, record_ulps, what=f"{direction} after step {at}")


#: Each hyperparameter, saved with one value and loaded into an optimizer constructed with another.
RESTORED = {
    "lr": (0.25, 0.75),
    "lr_decay": (0.125, 0.5),
    "weight_decay": (0.0625, 0.25),
    "initial_accumulator_value": (0.5, 2.0),
    "eps": (0.01, 0.2),
    "maximize": (True, False),
}


@pytest.mark.spec("R17", "R18")
@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("key", list(RESTORED))
def test_hyperparameter_restored(target, record_ulps, key, options):
    """A group's hyperparameter is saved and restored over the value the loading optimizer was
    constructed with: param_groups says so, and the run goes on with it (params and sums)."""
    saved_value, other = RESTORED[key]
    rng = np.random.default_rng(18)
    case = Case(
        dtype="float64",
        params=[rng.uniform(-2, 2, 5)],
        grads=[[rng.uniform(-3, 3, 5)] for _ in range(4)],
        groups=[{"lr": 0.5, key: saved_value, "params": [0]}],
        options=dict(options),
    )
    made: list[Any] = []

    def factory(params: Any, **hyper: Any) -> Any:
        made.append(handover(target.make, target.make, 2, **{"lr": 0.5, **options, key: other})(params, **hyper))
        return made[-1]

    check_case(
        dataclasses.replace(target, factory=factory), case, record_ulps, what=f"{key} restored by load_state_dict"
    )
    group = made[-1].current.param_groups[0]
    assert group[key] == saved_value, (
        f"after load_state_dict, param_groups[0][{key!r}] is {group[key]!r}, saved {saved_value!r}"
    )


@pytest.mark.spec("R17", "R18")
@pytest.mark.parametrize("options", path_params())
def test_every_group_key_round_trips(target, options):
    """Every key of every saved group (hyperparameters, flags, params) comes back as saved."""
    ps = [
        torch.zeros(3, dtype=torch.float64, requires_grad=True),
        torch.zeros(2, dtype=torch.float64, requires_grad=True),
    ]
    opt = target.make(
        [
            {"params": [ps[0]], "lr": 0.25, "maximize": True, "lr_decay": 0.125},
            {"params": [ps[1]], "eps": 0.01, "weight_decay": 0.0625},
        ],
        **options,
    )
    saved = copy.deepcopy(opt.state_dict())
    other = target.make([{"params": [ps[0]]}, {"params": [ps[1]]}], lr=0.75, **options)
    other.load_state_dict(copy.deepcopy(saved))
    for i, (want, got) in enumerate(zip(saved["param_groups"], other.state_dict()["param_groups"])):
        diff = {k: (want.get(k), got.get(k)) for k in set(want) | set(got) if want.get(k) != got.get(k)}
        assert not diff, f"group {i} after load_state_dict: (saved, now) {diff}"


@pytest.mark.spec("R14", "R17")
def test_eager_state_and_format(target):
    """State exists from construction; ids 0..n-1 in group order; step 0-dim; sum like param."""
    torch_layout_required(target, "the state_dict's format")
    gen = torch.Generator().manual_seed(0)
    params = [
        torch.randn(3, 2, dtype=torch.float64, generator=gen).requires_grad_(),
        torch.randn(5, dtype=torch.float64, generator=gen).requires_grad_(),
    ]
    opt = target.make(params, lr=0.2)
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sorted(sd["state"]) == [0, 1], f"state ids {sorted(sd['state'])} before any step"
    group = sd["param_groups"][0]
    assert GROUP_KEYS <= set(group), f"group lacks {GROUP_KEYS - set(group)}"
    assert group["params"] == [0, 1]
    for i, p in enumerate(params):
        s = sd["state"][i]
        assert torch.is_tensor(s["step"]) and s["step"].dim() == 0 and float(s["step"]) == 0.0
        assert s["sum"].shape == p.shape and s["sum"].dtype == p.dtype
        assert torch.all(s["sum"] == 0.0)
    for _ in range(3):
        for p in params:
            p.grad = torch.ones_like(p)
        opt.step()
    sd = opt.state_dict()
    assert [float(sd["state"][i]["step"]) for i in range(2)] == [3.0, 3.0]


@pytest.mark.spec("R17")
def test_state_dict_is_serialisable(target):
    """The state_dict survives torch.save / torch.load."""
    p = torch.ones(4, requires_grad=True)
    opt = target.make([p], lr=0.2)
    p.grad = torch.ones(4)
    opt.step()
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    _assert_same_tree(loaded, opt.state_dict(), "state_dict after torch.save/torch.load")


def _assert_same_tree(got: Any, want: Any, where: str) -> None:
    """Same nested dicts/lists, tensors equal (dtype, shape, values), other leaves equal."""
    if torch.is_tensor(want):
        assert torch.is_tensor(got) and got.dtype == want.dtype and torch.equal(got, want), (
            f"{where}: {got!r} != {want!r}"
        )
    elif isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), (
            f"{where}: keys {sorted(map(str, got))} != {sorted(map(str, want))}"
        )
        for k in want:
            _assert_same_tree(got[k], want[k], f"{where}[{k!r}]")
    elif isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), f"{where}: {got!r} != {want!r}"
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_same_tree(g, w, f"{where}[{i}]")
    else:
        assert got == want or (got != got and want != want), f"{where}: {got!r} != {want!r}"


@pytest.mark.spec("R18")
@pytest.mark.parametrize("options", path_params())
@pytest.mark.parametrize("split", [1, 3])
def test_resume_equals_uninterrupted(target, split, options):
    """Save after `split` steps, load into a fresh optimizer, continue: bitwise the same results."""

    def run(opt, params, steps):
        for k in steps:
            gen = torch.Generator().manual_seed(100 + k)
            for p in params:
                p.grad = torch.randn(p.shape, dtype=p.dtype, generator=gen)
            opt.step()

    def fresh():
        gen = torch.Generator().manual_seed(0)
        return [
            torch.randn(3, 2, dtype=torch.float64, generator=gen).requires_grad_(),
            torch.randn(5, dtype=torch.float64, generator=gen).requires_grad_(),
        ]

    a = fresh()
    opt_a = target.make(a, lr=0.2, **options)
    run(opt_a, a, range(5))
    b = fresh()
    opt_b = target.make(b, lr=0.2, **options)
    run(opt_b, b, range(split))
    saved = copy.deepcopy(opt_b.state_dict())
    c = [p.detach().clone().requires_grad_() for p in b]
    opt_c = target.make(c, lr=0.9, **options)  # the lr must come from the saved groups
    opt_c.load_state_dict(saved)
    run(opt_c, c, range(split, 5))
    for pa, pc in zip(a, c):
        assert torch.equal(pa.detach(), pc.detach()), f"resumed run differs: max |diff| {(pa - pc).abs().max().item()}"
    for i, (sa, sc) in enumerate(zip(target_state(target, opt_a), target_state(target, opt_c), strict=True)):
        assert sa is not None and sc is not None, f"param {i} has no state after 5 steps"
        assert torch.equal(sa[0], sc[0]) and float(sa[1]) == float(sc[1]), (
            f"param {i}: resumed sum or step differs from the uninterrupted run's (step {float(sc[1])} vs {float(sa[1])})"
        )


@pytest.mark.spec("R18")
def test_load_rejects_wrong_group_count(target):
    """ValueError: loaded state dict has a different number of parameter groups."""
    opt = target.make([torch.zeros(2, requires_grad=True)])
    other = target.make(
        [{"params": [torch.zeros(2, requires_grad=True)]}, {"params": [torch.zeros(2, requires_grad=True)]}]
    )
    with pytest.raises(ValueError, match="^loaded state dict has a different number of parameter groups$"):
        opt.load_state_dict(other.state_dict())


@pytest.mark.spec("R18")
def test_load_rejects_wrong_group_size(target):
    """ValueError: loaded state dict contains a parameter group that doesn't match the size..."""
    opt = target.make([torch.zeros(2, requires_grad=True)])
    other = target.make([torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)])
    with pytest.raises(
        ValueError,
        match="^loaded state dict contains a parameter group that doesn't match the size of optimizer's group$",
    ):
        opt.load_state_dict(other.state_dict())


@pytest.mark.spec("R18")
def test_load_casts_sum_to_param_dtype(target):
    """A float64 sum (saved after a step: state may be created lazily) loads into a float32
    parameter's state as float32: 0.25 + 1**2 after the next step."""
    q = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    src = target.make([q])
    q.grad = torch.full((3,), 0.5, dtype=torch.float64)  # saved: a float64 sum of 0.25 after one step
    src.step()
    p = torch.zeros(3, dtype=torch.float32, requires_grad=True)
    dst = target.make([p])
    dst.load_state_dict(copy.deepcopy(src.state_dict()))
    p.grad = torch.ones(3)
    dst.step()
    entry = target_state(target, dst)[0]
    assert entry is not None, "no state after a step"
    s = entry[0]
    assert s.dtype == torch.float32
    np.testing.assert_array_equal(to_numpy(s), np.full(3, 1.25))
