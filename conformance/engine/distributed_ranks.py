"""The spawned ranks of the ``distributed`` feature (``features/test_distributed.py``).

Run as ``python -m adagrad.conformance.engine.distributed_ranks TARGET OUT_DIR TARGET_SPEC`` in
each of :data:`~.distributed_plan.WORLD_SIZE` processes, with ``RANK``, ``WORLD_SIZE``,
``MASTER_ADDR`` and ``MASTER_PORT`` set (:func:`.distributed_spawn.spawn` does it). Each rank
joins a gloo group on CPU, imports the target by its spec and runs every
:func:`~.distributed_plan.configurations` entry: a small MLP (:mod:`.distributed_model`) under
FSDP2 (``fully_shard``) or DDP, the same data on every rank, for
:data:`~.distributed_plan.STEPS` steps, with a ``get_optimizer_state_dict`` /
``set_optimizer_state_dict`` round trip into a fresh optimizer after step
:data:`~.distributed_plan.RESUME_AFTER`.

Rank 0 writes, per configuration, a pickled :class:`~.distributed_plan.RankResult`; nothing here
compares values with the oracle.
"""

from __future__ import annotations

import ctypes
import datetime
import os
import pickle
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from adagrad.conformance.engine.distributed_model import WIDTHS, batch, build_model, fsdp2_missing, wrap
from adagrad.conformance.engine.distributed_plan import (
    HYPER,
    RESUME_AFTER,
    STEPS,
    Configuration,
    RankResult,
    configurations,
    result_path,
)

__all__ = ["main", "run_configuration"]

#: The message torch's DTensor dispatch gives for an operator without a sharding rule (fused
#: Adagrad under FSDP2): a limitation of torch, reported as unsupported.
NO_SHARDING_RULE = "does not have a sharding strategy registered"
#: Seconds a collective may wait before the group gives up (a rank stuck in the target).
COLLECTIVE_TIMEOUT = 60


def _die_with_parent() -> None:
    """A rank must not outlive the test process (killed by a watchdog, say)."""
    parent = int(os.environ.get("ADAGRAD_DISTRIBUTED_PARENT", "0"))
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if parent and os.getppid() != parent:  # the parent died before prctl
        os._exit(3)


def _full(t: Any) -> Any:
    """The whole tensor; a DTensor is gathered (a collective: every rank calls it, same order)."""
    return t.full_tensor() if hasattr(t, "full_tensor") else t


def _bits(t: Any) -> tuple[str, Any]:
    from adagrad.conformance.engine.tensor_bits import tensor_bits

    return tensor_bits(_full(t.detach()))


def _refusal(target: Any, options: dict[str, Any]) -> str | None:
    """What the target raises on this path with these hyperparameters in a single process, on a
    plain tensor, if anything (what it does not offer: its own features judge that)."""
    import torch

    p = torch.ones(3, requires_grad=True)
    try:
        opt = target.make([p], **HYPER, **options)
        p.grad = torch.full((3,), 0.5)
        opt.step()
    except Exception as exc:  # noqa: BLE001 - any refusal: reported, not judged here
        return f"the target refuses this path in a single process too ({type(exc).__name__}: {exc})"
    except BaseException as exc:  # the suite's "unsupported" signal (pytest's skip), from Target.make
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return f"the target refuses this path in a single process too ({exc})"
    return None


def _sharding_refusal(exc: BaseException) -> str | None:
    """torch's NotImplementedError for an operator DTensor cannot shard, anywhere in the chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, NotImplementedError) and NO_SHARDING_RULE in str(seen):
            return f"{type(seen).__name__}: {seen}"
        seen = seen.__cause__ or seen.__context__
    return None


class _Gathered:
    """An optimizer seen through a state_dict whose tensors were gathered whole (for read_step)."""

    def __init__(self, state_dict: dict[str, Any]) -> None:
        self._sd = state_dict

    def state_dict(self) -> dict[str, Any]:
        return self._sd


def _mapped_state_dict(target: Any, opt: Any) -> dict[str, Any]:
    """The target's state through its declared mapping, in torch's layout (for :func:`_read`)."""
    from adagrad.conformance.engine.state_mapping import read_state

    entries = read_state(target, opt)
    if isinstance(entries, str):
        raise RuntimeError(entries)
    state = {i: {"sum": e[0], "step": e[1]} for i, e in enumerate(entries) if e is not None}
    return {"state": state, "param_groups": [{"params": list(range(len(entries)))}]}


def _read(opt: Any, params: list[Any], case: Any, k: int, target: Any = None) -> Any:
    """What the target holds after step ``k``, every DTensor gathered, read as the harness reads
    it (through the target's state mapping, if it declares one)."""
    import torch

    from adagrad.conformance.engine.case import TargetStep
    from adagrad.conformance.engine.harness import read_step

    full = [_full(p.detach()) for p in params]
    mapped = getattr(getattr(target, "target_spec", None), "state", None) is not None
    try:
        sd = _mapped_state_dict(target, opt) if mapped else opt.state_dict()
        state = {i: {key: _full(v) if torch.is_tensor(v) else v for key, v in entry.items()}
                 for i, entry in sorted(sd["state"].items())}  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - a state that cannot be read is the target's failure
        return TargetStep([_bits(p) for p in full], [None] * len(full), [None] * len(full),
                          f"state_dict() raised {type(exc).__name__}: {exc}")  # fmt: skip
    return read_step(_Gathered({**sd, "state": state}), full, case, k)


def _same(a: Any, b: Any) -> bool:
    import numpy as np

    if isinstance(a, tuple) and isinstance(b, tuple):
        return a[0] == b[0] and np.array_equal(a[1], b[1])
    return a == b


def _round_trip(
    target: Any, model: Any, opt: Any, config: Configuration, before: Any, case: Any
) -> tuple[Any, list[str]]:
    """Save with get_optimizer_state_dict, load into a fresh optimizer (another lr: the groups
    must come from the state) with set_optimizer_state_dict; what the load changed."""
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict, set_optimizer_state_dict

    osd = get_optimizer_state_dict(model, opt)
    params = list(model.parameters())
    fresh = target.make(params, lr=3 * HYPER["lr"], **config.options)
    set_optimizer_state_dict(model, fresh, optim_state_dict=osd)  # keyword-only in torch 2.2-2.3
    after = _read(fresh, params, case, RESUME_AFTER - 1, target)
    problems = []
    if after.error:
        problems.append(f"after the round trip: {after.error}")
    for i, (s0, s1, t0, t1) in enumerate(zip(before.sums, after.sums, before.steps, after.steps, strict=True)):
        if not _same(s0, s1):
            problems.append(f"param {i}: the accumulator changed in the get/set_optimizer_state_dict round trip")
        if not _same(t0, t1):
            problems.append(
                f"param {i}: the step changed in the get/set_optimizer_state_dict round trip ({t0!r} -> {t1!r})"
            )
    return fresh, problems


def run_configuration(target: Any, config: Configuration) -> RankResult:
    """Run ``config`` on this rank (every rank runs the same calls: the collectives line up)."""
    refusal = _refusal(target, config.options)
    if refusal is not None:
        return RankResult(config.name, "refused", reason=refusal)
    if config.wrap == "fsdp2" and fsdp2_missing():
        return RankResult(config.name, "unavailable", reason=fsdp2_missing())
    widths = WIDTHS[config.wrap]
    model = wrap(config.wrap, build_model(widths))
    params = list(model.parameters())
    result = RankResult(config.name, "ran", options=config.options, initial=[_bits(p) for p in params])
    case = result.case()  # read_step needs its groups only
    try:
        opt = target.make(params, **HYPER, **config.options)
        for k in range(STEPS):
            x, y = batch(k, widths)
            model.zero_grad(set_to_none=True)  # the model's, not the target's zero_grad
            ((model(x) - y) ** 2).mean().backward()
            result.grads.append([None if p.grad is None else _bits(p.grad) for p in params])
            opt.step()
            st = _read(opt, params, case, k, target)
            result.trajectory.append(st)
            if st.error:
                break
            if k + 1 == RESUME_AFTER:
                opt, problems = _round_trip(target, model, opt, config, st, case)
                result.problems += problems
    except Exception as exc:  # noqa: BLE001 - the target raised: judged by the test
        unsupported = _sharding_refusal(exc) if config.wrap == "fsdp2" else None
        if unsupported is not None and not result.trajectory:  # refused at once, not midway
            return RankResult(config.name, "unsupported", reason=unsupported)
        result.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-6)}"
    return result


def main(argv: list[str] | None = None) -> int:
    """One rank: join the group, run every configuration, rank 0 writes the results."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print(
            "usage: python -m adagrad.conformance.engine.distributed_ranks TARGET OUT_DIR TARGET_SPEC", file=sys.stderr
        )
        return 2
    spec, out_dir, target_spec = args
    _die_with_parent()
    import torch
    import torch.distributed as dist

    from adagrad.conformance.engine.target import load_target
    from adagrad.conformance.engine.target_spec import attach

    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    dist.init_process_group("gloo", rank=rank, world_size=int(os.environ["WORLD_SIZE"]),
                            timeout=datetime.timedelta(seconds=COLLECTIVE_TIMEOUT))  # fmt: skip
    try:
        target = attach(load_target(spec), target_spec)
        paths = os.environ.get("ADAGRAD_DISTRIBUTED_PATHS")  # the paths the run plans (none excluded)
        for config in configurations():
            if paths is not None and config.path not in paths.split(","):
                continue
            start = time.monotonic()
            result = run_configuration(target, config)
            result.seconds = time.monotonic() - start
            if rank == 0:
                tmp = result_path(Path(out_dir), config).with_suffix(".tmp")
                tmp.write_bytes(pickle.dumps(result))
                tmp.replace(result_path(Path(out_dir), config))
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    # through the package: one copy of this module, and pickled results name no __main__
    from adagrad.conformance.engine.distributed_ranks import main as _main

    sys.exit(_main())
