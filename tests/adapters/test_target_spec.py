"""Torch-API targets that are not torch's: target specs (state mapping, claims), refusals as
unsupported, lazy state, and the shipped specs of torchopt, bitsandbytes and DeepSpeed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from adagrad.conformance.adapters.base import take_unsupported
from adagrad.conformance.engine.claims import parse_claims
from adagrad.conformance.engine.harness import (
    Case,
    ConformanceFailure,
    check_case,
    clone_case,
    run_target,
    run_target_steps,
)
from adagrad.conformance.engine.state_mapping import NO_MAPPING, StateMapping, read_state
from adagrad.conformance.engine.target import Target, TargetError, load_target
from adagrad.conformance.engine.target_spec import SHIPPED, TargetSpec, attach, load_spec

from . import torch_api_targets as tt
from .adapter_helpers import run_check, small_case

MAPPING = StateMapping(sum_key="acc", step_key="t", step_type="int")


def unsupported_reason(excinfo) -> str:
    assert str(excinfo.value).startswith("unsupported: "), excinfo.value
    return str(excinfo.value)


# -- spec files and claims -----------------------------------------------------------------------
def test_spec_files_toml_and_json(tmp_path):
    toml = tmp_path / "s.toml"
    toml.write_text(
        '[state]\nsum = "acc"\nstep = "t"\nstep_type = "int"\n[claims]\ndtypes = ["float32"]\npaths = ["for-loop"]\n'
    )
    spec = load_spec(str(toml))
    assert (spec.state.sum_key, spec.state.step_key, spec.state.step_type) == ("acc", "t", "int")
    assert spec.claims.dtypes == {"float32"} and spec.claims.paths == {"for-loop"}
    js = tmp_path / "s.json"
    js.write_text(json.dumps({"state": {"read": "tests.adapters.torch_api_targets:no_foreach_factory"}}))
    assert load_spec(str(js)).state.read.__name__ == "no_foreach_factory"
    assert load_spec(str(js), resolve=False).state.read is None  # checked, nothing imported


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[state]\nsums = "acc"\n', "unknown state key"),
        ('[claims]\ndtypes = ["float8"]\n', "unknown dtypes float8"),
        ('[claims]\ndtypes = "float32"\n', "must be a list"),
        ('[state]\nstep_type = "long"\n', "step_type must be"),
        ('[state]\nread = "no_colon"\n', "module:attr"),
        ("[extra]\n", "unknown key"),
        ("[state\n", "cannot be parsed"),
    ],
)
def test_bad_spec_files_are_named(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(TargetError, match=message):
        load_spec(str(path))


def test_spec_references():
    with pytest.raises(TargetError, match="does not exist"):
        load_spec("/nonexistent/spec.toml")
    with pytest.raises(TargetError, match="no attribute"):
        load_spec("adagrad.conformance.adapters.torchopt_adagrad:NOPE")
    with pytest.raises(TargetError, match="not a TargetSpec"):
        load_spec("adagrad.conformance.adapters.torchopt_adagrad:read")
    assert set(SHIPPED.values()) <= {
        f"adagrad.conformance.adapters.{m}:SPEC"
        for m in ("torchopt_adagrad", "bitsandbytes_adagrad", "deepspeed_adagrad")
    }
    for ref in set(SHIPPED.values()):
        assert isinstance(load_spec(ref), TargetSpec)  # importing a spec does not need its library


def test_claims():
    claims = parse_claims(["dtypes=float32,bfloat16", "paths=for-loop", "not_claimed=hooks"])
    unclaimed = claims.unclaimed_features()
    assert {"numerics-float64", "numerics-float16", "foreach", "fused", "hooks"} <= set(unclaimed)
    assert "numerics-float32" not in unclaimed and "shapes" not in unclaimed
    assert claims.refusal("float64", "cpu", {}, ["lr"]).startswith("not claimed: dtype float64")
    assert claims.refusal("complex64", "cpu", {}, ["lr"]).startswith("not claimed: dtype complex64")
    assert "complex" in unclaimed and "complex" not in parse_claims(["dtypes=complex64"]).unclaimed_features()
    assert "foreach path" in claims.refusal("float32", "cpu", {"foreach": True}, [])
    assert (
        parse_claims(["hyperparameters=lr,eps"])
        .refusal("float32", "cpu", {}, ["lr", "lr_decay"])
        .endswith("(claimed: eps, lr)")
    )
    for bad, message in (("dtypes", "KEY=VALUE"), ("sizes=3", "unknown key"), ("paths=loop", "unknown paths")):
        with pytest.raises(TargetError, match=message):
            parse_claims([bad])


# -- refusals -----------------------------------------------------------------------------------
def test_constructor_refusal_is_unsupported_with_the_library_message():
    target = attach(Target("LazyRenamed", tt.LazyRenamed))
    take_unsupported()
    with pytest.raises(pytest.skip.Exception) as excinfo:
        list(run_target_steps(target, small_case(lr_decay=0.1)))
    assert "TypeError" in unsupported_reason(excinfo) and "'lr_decay'" in str(excinfo.value)
    assert take_unsupported() and list(run_target_steps(target, small_case()))  # the default case runs


@pytest.mark.parametrize("bad", [-0.5, float("nan")])
def test_validation_of_a_hyperparameter_refused_altogether_is_unsupported(bad):
    """A target refusing every non-zero lr_decay refuses a bad one too: its validation of lr_decay
    cannot be checked (unsupported, with its message); one that takes lr_decay and words its
    rejection otherwise than torch keeps the exception for the validation test to judge."""
    target = attach(Target("refuses_lr_decay", tt.refuses_lr_decay))
    take_unsupported()
    with pytest.raises(pytest.skip.Exception) as excinfo:
        target.make([torch.zeros(2, requires_grad=True)], lr_decay=bad)
    assert "Lr Decay != 0.0 not supported!" in unsupported_reason(excinfo)
    own = attach(Target("own_wording", tt.own_wording))
    with pytest.raises(ValueError, match="^lr_decay must be non-negative"):
        own.make([torch.zeros(2, requires_grad=True)], lr_decay=bad)


def test_strict_support_makes_a_refusal_a_failure():
    target = attach(Target("LazyRenamed", tt.LazyRenamed), strict_support=True)
    with pytest.raises(AssertionError, match="--strict-support"):
        list(run_target_steps(target, small_case(maximize=True)))


def test_refusal_after_a_change_is_a_failure():
    target = attach(Target("RefusesAfterChange", tt.RefusesAfterChange), spec_ref=None)
    with pytest.raises(AssertionError, match="after step 1 had already changed its params or state"):
        list(run_target_steps(target, small_case(weight_decay=0.1)))


def test_a_write_before_a_refusal_fails_whatever_the_values():
    """A step that writes its state in place and then refuses is a failure even when the write
    changes no bit (a small addend absorbed by a large sum): the verdict does not depend on the
    drawn example. From fresh state nothing is written first: unsupported."""
    target = Target("WritesThenRefusesComplex", tt.WritesThenRefusesComplex, target_spec=TargetSpec(state=MAPPING))
    case = small_case("complex128", steps=1)
    loaded = clone_case(case, start=[(np.array([1.0, 2.0, 0.5]), 3), (np.array([[0.25, 4.0]]), 3)])
    with pytest.raises(
        AssertionError,
        match=r"after step 1 had already changed its params or state \(their values, or an in-place write\)",
    ):
        list(run_target_steps(target, loaded))
    with pytest.raises(pytest.skip.Exception, match="complex parameters are not supported"):
        list(run_target_steps(target, case))


def test_a_refusal_met_after_a_failure_never_hides_it():
    """Once an example of a test failed, a later refusal, even of what the whole test fixes,
    abandons only its own example: met while hypothesis shrinks or replays the failure, it must
    not turn the failing test into "unsupported" (a skip)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from adagrad.conformance.engine.refusals import engaged, refuse

    target = Target("t", tt.LazyRenamed)
    calls = []

    @settings(database=None, max_examples=20, derandomize=True)
    @given(st.integers(0, 40))
    def inner(n):
        calls.append(n)
        if len(calls) == 1:  # the first example fails (as harness._fail marks it) ...
            engaged()
            raise AssertionError("a wrong result")
        refuse(target, "NotImplementedError: complex128 is not supported", whole_test=True)  # ... the rest refuse

    with pytest.raises(BaseException) as excinfo:
        inner()
    assert not isinstance(excinfo.value, pytest.skip.Exception), excinfo.value
    assert len(calls) > 1  # the refusals were met


def test_targets_built_outside_the_suite_keep_every_exception():
    """Only a suite-loaded target (spec attached) has refusals; tests that drive a Target directly see the exception."""
    with pytest.raises(TypeError, match="lr_decay"):
        list(run_target_steps(Target("LazyRenamed", tt.LazyRenamed), small_case(lr_decay=0.1)))


def test_torch_refusals_the_suite_tests_stay_exceptions():
    """torch's fused refusal of sparse gradients is judged by its feature (check_or_refused), never swallowed."""
    from adagrad.reference import SparseGrad

    target = attach(load_target("torch.optim:Adagrad"))
    case = Case(
        dtype="float32",
        params=[np.zeros((3, 2))],
        grads=[[SparseGrad(np.array([[0, 2]]), np.ones((2, 2)), (3, 2))]],
        groups=[{"lr": 0.5, "params": [0]}],
        options={"fused": True},
    )
    with pytest.raises(RuntimeError, match="`fused` does not support sparse grad"):
        list(run_target_steps(target, case))


def test_off_flags_are_left_out_for_a_factory_without_them():
    opt = Target("f", tt.no_foreach_factory).make(
        [torch.zeros(2, requires_grad=True)], lr=0.5, foreach=False, fused=None
    )
    assert opt.param_groups[0]["lr"] == 0.5
    with pytest.raises(TypeError, match="foreach"):  # asking for the foreach path is not dropped
        Target("f", tt.no_foreach_factory).make([torch.zeros(2, requires_grad=True)], foreach=True)


def test_unclaimed_case_is_reported_not_run():
    target = attach(Target("LazyRenamed", tt.LazyRenamed), claims=["dtypes=float32"])
    with pytest.raises(pytest.skip.Exception, match="^not claimed: dtype float64"):
        list(run_target_steps(target, small_case("float64")))


# -- state mapping, lazy state, no mapping ----------------------------------------------------
def mapped(cls) -> Target:
    """``cls`` loaded as the suite loads it, with the mapping of its renamed state."""
    return Target(cls.__name__, cls, target_spec=TargetSpec(state=MAPPING))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mapped_lazy_state_is_judged_with_missing_grads_and_teacher_forcing(dtype):
    """Renamed lazy state through the mapping: sums and steps judged; a parameter without a
    gradient yet is not a 'no state' failure; a loaded start goes in through the mapping."""
    target = mapped(tt.LazyRenamed)
    case = small_case(dtype, steps=4, weight_decay=0.05)
    grads = [[g if (k >= 2 or i == 0) else None for i, g in enumerate(step)] for k, step in enumerate(case.grads)]
    check_case(target, clone_case(case, grads=grads))
    check_case(target, clone_case(case, start=[(np.array([1.0, 2.0, 0.5]), 3), (np.array([[0.25, 4.0]]), 5)]))
    steps = list(run_target(target, clone_case(case, grads=grads)))
    assert steps[0][2] == [1, 0] and steps[-1][2] == [4, 2]


def test_mapped_state_lets_the_suite_see_a_wrong_sum():
    with pytest.raises(ConformanceFailure, match="outside the error model"):
        check_case(mapped(tt.WrongEps), small_case(eps=0.1))


def test_without_mapping_params_only_and_teacher_forcing_not_checkable():
    target = attach(Target("OpaqueState", tt.OpaqueState))
    check_case(target, small_case(steps=3))  # free-running: the params are judged
    with pytest.raises(ConformanceFailure, match="param"):
        check_case(attach(Target("WrongEps", tt.WrongEps)), small_case(eps=0.1))
    with pytest.raises(pytest.skip.Exception, match=NO_MAPPING):
        list(run_target_steps(target, clone_case(small_case(), start=[(np.ones(3), 1), (np.ones((1, 2)), 1)])))
    opt = target.make([torch.zeros(2, requires_grad=True)])
    assert read_state(target, opt) == [None]  # lazy: nothing yet, and nothing to say it is not torch's


# -- shipped specs (their libraries are optional extras: skipped when absent) -------------------
def test_bitsandbytes_8bit_state_dequantized_as_bitsandbytes_does():
    bnb = pytest.importorskip("bitsandbytes")
    from bitsandbytes.functional import dequantize_blockwise

    from adagrad.conformance.adapters.bitsandbytes_adagrad import BLOCKSIZE, dequantize, write

    p = torch.linspace(-1, 1, 5000).requires_grad_()
    opt = bnb.optim.Adagrad8bit([p], lr=0.1)
    p.grad = torch.linspace(-2, 3, 5000)
    opt.step()
    entry = opt.state[p]
    assert entry["state1"].dtype == torch.uint8
    want = dequantize_blockwise(entry["state1"], absmax=entry["absmax1"], code=entry["qmap1"], blocksize=BLOCKSIZE)
    assert torch.equal(dequantize(entry), want)
    fresh = bnb.optim.Adagrad8bit([p], lr=0.1)
    write(fresh, [(want, 7)])
    assert fresh.state[p]["step"] == 7 and torch.equal(dequantize(fresh.state[p]), want)  # codes round-trip


def test_bitsandbytes_8bit_fails_only_where_its_state_is_quantized():
    pytest.importorskip("bitsandbytes")
    rng = np.random.default_rng(4096)

    def case(n: int) -> Case:
        return Case(
            dtype="float32",
            params=[rng.uniform(-2, 2, n).astype(np.float32).astype(np.float64)],
            grads=[[rng.uniform(-3, 3, n).astype(np.float32).astype(np.float64)]],
            groups=[{"lr": 0.1, "params": [0]}],
        )

    eight = attach(load_target("bitsandbytes.optim:Adagrad8bit"))
    check_case(eight, case(4095))  # below min_8bit_size: 32-bit state
    with pytest.raises(ConformanceFailure, match="sum 0 after step 1"):
        check_case(eight, case(4096))
    check_case(attach(load_target("bitsandbytes.optim:Adagrad32bit")), case(4096))


def test_torchopt_state_read_and_written_through_its_spec():
    pytest.importorskip("torchopt")
    target = attach(load_target("torchopt:Adagrad"))
    case = small_case("float32", steps=3)
    check_case(target, case)
    check_case(target, clone_case(case, start=[(np.array([1.0, 2.0, 0.5]), 3), (np.array([[0.25, 4.0]]), 3)]))


def test_check_cli_with_a_spec_file_and_claims(tmp_path):
    """`check --target-spec FILE --claims`: refusals listed as unsupported with the library's
    message, unclaimed dtypes not claimed, verdict conformant."""
    spec = tmp_path / "lazy.toml"
    spec.write_text('[state]\nsum = "acc"\nstep = "t"\nstep_type = "int"\n')
    proc = run_check(
        "tests.adapters.torch_api_targets:LazyRenamed",
        "--target-spec",
        str(spec),
        "--claims",
        "dtypes=float64,float32",
        only=("hyperparameters", "missing-grads"),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "unexpected keyword argument 'lr_decay'" in proc.stdout and "Verdict: CONFORMANT" in proc.stdout
    bad = run_check("tests.adapters.torch_api_targets:LazyRenamed", "--target-spec", str(tmp_path / "none.toml"))
    assert bad.returncode == 2 and "does not exist" in bad.stderr
