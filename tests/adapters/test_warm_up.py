"""A target spec's ``warm_up``: a build on first use runs before any test's time starts, once per
process (``check``'s probe first), so a correct target that compiles something on first use is
never killed mid-build; a warm-up that fails is a usage error naming it."""

from __future__ import annotations

import pytest

from adagrad.conformance.engine.target import TargetError, load_target
from adagrad.conformance.engine.target_spec import attach, load_spec, spec_from_dict, warm_up

from .adapter_helpers import run_check

TARGET = "tests.adapters.torch_api_targets:BuiltOnFirstUse"
STATE = '[state]\nsum = "acc"\nstep = "t"\nstep_type = "int"\n'


def _spec(tmp_path, warm: str | None) -> str:
    path = tmp_path / "spec.toml"
    path.write_text((f'warm_up = "{warm}"\n' if warm else "") + STATE)
    return str(path)


def test_warm_up_is_read_from_a_spec_file_and_checked(tmp_path):
    spec = load_spec(_spec(tmp_path, "tests.adapters.torch_api_targets:failing_build"))
    assert spec.warm_up.__name__ == "failing_build"
    with pytest.raises(TargetError, match=r"warm_up .* is not callable"):
        spec_from_dict({"warm_up": "tests.adapters.torch_api_targets:_BUILT"})
    with pytest.raises(TargetError, match=r"warm_up must be 'module:attr'"):
        spec_from_dict({"warm_up": 3})


def test_a_failing_warm_up_names_the_library_error(tmp_path):
    target = attach(load_target(TARGET), _spec(tmp_path, "tests.adapters.torch_api_targets:failing_build"))
    with pytest.raises(TargetError, match=r"warm_up raised OSError: g\+\+: command not found"):
        warm_up(target)
    proc = run_check(TARGET, "--target-spec", _spec(tmp_path, "tests.adapters.torch_api_targets:failing_build"))
    assert proc.returncode == 2 and "g++: command not found" in proc.stderr, proc.stderr[-2000:]


# without warm_up (what the warm_up is for: three timeouts) only in `make zoo`: CI's time is short
@pytest.mark.parametrize(
    "warm", [True, pytest.param(False, marks=pytest.mark.zoo_full)], ids=["warm_up declared", "no warm_up"]
)
def test_a_build_on_first_use_is_not_a_test_s_time(tmp_path, warm):
    """Each test process's first construction waits 4 s; the per-test limit is 2 s. With the
    spec's warm_up the build is done before the tests start: no test times out. Without it, the
    first test of the process is killed (what the warm_up is for)."""
    spec = _spec(tmp_path, "tests.adapters.torch_api_targets:build_on_first_use" if warm else None)
    proc = run_check(TARGET, "--target-spec", spec, "--timeout", "2", only=("zero-grad",), timeout=300)
    out = proc.stdout
    if warm:
        assert proc.returncode == 0 and "0 timeouts" in out and "Verdict: CONFORMANT" in out, out[-3000:]
    else:
        assert proc.returncode == 1 and "timed-out" in out, out[-3000:]
