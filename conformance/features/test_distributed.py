"""The target where real training runs: FSDP2 and DDP, 2 gloo processes on CPU (R1, R14).

Every path (for-loop, foreach, fused) steps a small MLP wrapped in FSDP2
(``torch.distributed.fsdp.fully_shard``: parameters and sums are ``DTensor(Shard(0))``, shards
uneven, one weight above 2**19 elements) or DDP, every hyperparameter away from its default,
with the same data on both ranks, so whatever differs from a single-process run is the
optimizer's. After every step the ranks gather the full parameters and accumulators
(``full_tensor()``) and rank 0 stores them as bit patterns with the gradients the optimizer
received; here the oracle judges that trajectory as the equivalent single-process case under
the error model. Mid-run the optimizer goes through ``get_optimizer_state_dict`` /
``set_optimizer_state_dict`` into a fresh one, which must hold the same state and carry the
run on (R14).

One spawn of :mod:`adagrad.conformance.engine.distributed_ranks` runs every configuration (15-30 s, most
of it imports), shared by every test process of the run. The ranks import the target by its
spec and always run on CPU. A path the target refuses in a single process (with the same
hyperparameters) and torch's own ``NotImplementedError`` for an operator DTensor cannot shard
(fused under FSDP2) are reported as unsupported, with the message; anything else the target
raises is a failure. Skipped only where torch.distributed or its gloo backend is missing.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from adagrad.conformance.adapters.base import signal_unsupported
from adagrad.conformance.engine.distributed_plan import (
    STEPS,
    Configuration,
    configurations,
    result_path,
    unavailable,
)
from adagrad.conformance.engine.distributed_spawn import spawn
from adagrad.conformance.engine.harness import ConformanceFailure, judge
from adagrad.conformance.features import feature, requires
from adagrad.conformance.pytest_plugin import run_state

#: Seconds the ranks may take for every configuration together (about 30 s on 2 busy cores).
SPAWN_LIMIT = 300
WRAPS = {"fsdp2": "FSDP2", "ddp": "DDP"}

pytestmark = [
    feature("distributed"),
    # the first test spawns the ranks; the others of any process may wait for them
    pytest.mark.time_limit(SPAWN_LIMIT + 120),
    pytest.mark.skipif(unavailable() is not None, reason=f"distributed: {unavailable()}"),
]


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """One process of the run at a time (POSIX file lock; elsewhere, no sharing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: each test process spawns its own ranks
        yield
        return
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def distributed_runs(
    target: Any, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> tuple[Path | None, str | None]:
    """``(folder of results, problem)``: every configuration run once per run of the suite (the
    first test process to get here spawns the ranks, the others read what they wrote). A folder
    of None: the target cannot be imported by the ranks (``problem`` says why)."""
    if target.loader is not None:  # a bridge to another implementation, not a module:attr import
        return None, f"target {target.spec} is reached through an adapter, which the ranks cannot import"
    base = run_state.state_dir() or tmp_path_factory.getbasetemp()
    key = hashlib.sha1(target.spec.encode()).hexdigest()[:12]
    out = Path(base) / f"distributed-{key}"
    with _exclusive(Path(base) / f"distributed-{key}.lock"):
        done = out / "done.json"
        if not done.exists():
            spec_name = getattr(target.target_spec, "name", "") or "none"
            problem = spawn(target.spec, out, SPAWN_LIMIT, spec_name, _planned_paths(request.config))
            done.write_text(json.dumps({"problem": problem}))
    return out, json.loads(done.read_text())["problem"]


def _planned_paths(config: pytest.Config) -> list[str]:
    """The paths whose configurations the ranks run: a path whose feature is excluded (or not
    claimed) is not run at all, so a target that hangs on it cannot hold up the others."""
    excluded = set(config.getoption("--adagrad-exclude", None) or ())
    return [p for p in ("for-loop", "foreach", "fused") if p not in excluded]


def _unsupported(reason: str) -> None:
    """Report ``reason`` as unsupported (skip the test as the suite's own decision)."""
    try:
        signal_unsupported(reason)
    except pytest.skip.Exception as exc:
        exc._adagrad_sanctioned = True  # type: ignore[attr-defined] - the suite's skip, not the target's
        raise


def _fail(message: str, size: int | None = None) -> None:
    run_state.first_failure(message, size, kind="distributed")
    raise ConformanceFailure(message, {"statement": message}, size)


@pytest.mark.spec("R1", "R14")
@pytest.mark.parametrize(
    "config",
    [pytest.param(c, id=c.name, marks=[requires(c.path)] if c.path != "for-loop" else []) for c in configurations()],
)
def test_distributed_run_matches_oracle(
    target: Any, record_ulps: Any, distributed_runs: Any, config: Configuration
) -> None:
    """R1, R14: under FSDP2 or DDP every parameter and accumulator follows the oracle within the
    error model at every step, across a get/set_optimizer_state_dict round trip after step 2;
    the round trip changes nothing."""
    out, problem = distributed_runs
    what = f"{WRAPS[config.wrap]} {config.path}"
    if out is None:
        _unsupported(f"{what}: {problem}")
    path = result_path(out, config)
    if not path.exists():
        _fail(f"{what}: the ranks wrote no result: {problem or 'they stopped before this configuration'}")
    result = pickle.loads(path.read_bytes())
    if result.status != "ran":  # refused in a single process, torch cannot shard it, no FSDP2
        _unsupported(f"{what}: {result.reason}")
    case = result.case()
    if result.trajectory:
        judge(target, case, result.trajectory, record_ulps, what=what)
    if result.error:
        _fail(f"{what}: the target raised at step {len(result.trajectory) + 1}: {result.error}", case.size)
    if result.problems:
        _fail(f"{what}: " + "; ".join(result.problems), case.size)
    if len(result.trajectory) < STEPS:
        _fail(f"{what}: the run stopped after {len(result.trajectory)} of {STEPS} steps: {problem}", case.size)
