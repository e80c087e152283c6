"""The spawned ranks of the ``distributed`` feature (``features/test_distributed.py``).

Run as ``python -m adagrad.conformance.engine.distributed_ranks TARGET OUT_DIR`` in each of
:data:`WORLD_SIZE` processes, with ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``
set (the test starts them; :func:`spawn` does it). Each rank joins a gloo group on CPU, imports
the target by its spec and runs every :func:`configurations` entry: a small MLP (:data:`WIDTHS`;
under FSDP2 one weight above 2**19 elements, rows that split unevenly over 2 ranks, a 1-row
weight whose second shard is empty) under FSDP2 (``fully_shard``) or DDP, the same data on
every rank, for
:data:`STEPS` steps, with a ``get_optimizer_state_dict`` / ``set_optimizer_state_dict`` round
trip into a fresh optimizer after step :data:`RESUME_AFTER`.

Rank 0 writes, per configuration, a pickled :class:`RankResult`: the single-process
:class:`~.case.Case` that the run is equivalent to (initial parameters, the gradients the
optimizer received, the hyperparameters: all read bit-exactly with :mod:`.tensor_bits`) and the
target's trajectory (full parameters and accumulators gathered after every step). The oracle
judges it in the test process; nothing here compares values with the oracle.
"""

from __future__ import annotations

import ctypes
import datetime
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "HYPER",
    "LARGE",
    "RESUME_AFTER",
    "STEPS",
    "WORLD_SIZE",
    "Configuration",
    "RankResult",
    "configurations",
    "main",
    "result_path",
    "spawn",
    "unavailable",
]

WORLD_SIZE = 2
STEPS = 3
RESUME_AFTER = 2  # the state_dict round trip follows this step
BATCH = 8
SEED = 1234
#: The lr only: every other hyperparameter at its default (they are the hyperparameters
#: feature's subject), so a library without, say, lr_decay is still checked under DDP and FSDP2.
HYPER: dict[str, Any] = dict(lr=0.05)
#: Above this many elements an implementation may split a tensor (impl's foreach path did, with
#: ``view(-1).narrow``, which on a sharded DTensor returns a copy); the model has one such weight.
LARGE = 2**19
#: The MLP's layer widths per wrapper. FSDP2: a 514 x 1024 weight (526,336 elements > LARGE)
#: split evenly (an uneven split of it makes ``view(-1)`` raise in torch 2.13 rather than copy),
#: 7 rows split unevenly over 2 ranks, a 1-row weight whose second shard is empty. DDP keeps
#: whole tensors on every rank: a small model is enough (and cheap to judge).
WIDTHS = {"fsdp2": (1024, 514, 7, 1), "ddp": (64, 33, 7, 1)}
#: The message torch's DTensor dispatch gives for an operator without a sharding rule (fused
#: Adagrad under FSDP2): a limitation of torch, reported as unsupported.
NO_SHARDING_RULE = "does not have a sharding strategy registered"
#: Seconds a collective may wait before the group gives up (a rank stuck in the target).
COLLECTIVE_TIMEOUT = 60


@dataclass(frozen=True)
class Configuration:
    """One run: the wrapper (``fsdp2`` or ``ddp``) and the optimizer path."""

    wrap: str
    path: str

    @property
    def name(self) -> str:
        """The test id part, ending with the path (the plugin reads the path from it)."""
        return f"{self.wrap}-{self.path}"

    @property
    def options(self) -> dict[str, Any]:
        """The constructor keywords selecting the path (the suite's own table)."""
        from adagrad.conformance.engine.strategies import PATHS

        return dict(PATHS[self.path][0])


def configurations() -> list[Configuration]:
    """Every configuration; one spawn runs them all."""
    return [Configuration(wrap, path) for wrap in ("fsdp2", "ddp") for path in ("for-loop", "foreach", "fused")]


@dataclass
class RankResult:
    """What rank 0 found for one configuration.

    ``status``: ``"ran"`` (:meth:`case` and ``trajectory`` hold the run, ``error`` what the
    target raised, if it did), ``"refused"`` (the target refuses this path and :data:`HYPER` in
    a single process too: ``reason``), ``"unsupported"`` (torch cannot shard the path's operator,
    at the first step: ``reason`` is torch's message) or ``"unavailable"`` (this torch lacks the
    wrapper: ``reason``).
    ``initial`` and ``grads`` are the bit patterns of the parameters before the first step and
    of the gradients the optimizer received at each step; ``problems`` lists what the
    state_dict round trip changed.
    """

    name: str
    status: str
    reason: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    initial: list[Any] = field(default_factory=list)
    grads: list[list[Any]] = field(default_factory=list)
    trajectory: list[Any] = field(default_factory=list)
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the configuration on rank 0

    def case(self) -> Any:
        """The single-process :class:`~.case.Case` this run is equivalent to."""
        from adagrad.conformance.engine.case import Case

        grads = [[None if g is None else _values(g) for g in step] for step in self.grads[: len(self.trajectory)]]
        groups = [{**HYPER, "params": list(range(len(self.initial)))}]
        params = [_values(b) for b in self.initial]
        return Case(dtype="float32", params=params, grads=grads, groups=groups, options=dict(self.options))


def result_path(out_dir: Path, config: Configuration) -> Path:
    """Where rank 0 writes ``config``'s :class:`RankResult`."""
    return Path(out_dir) / f"{config.name}.pkl"


def unavailable() -> str | None:
    """Why this torch cannot run the feature (no torch.distributed, no gloo), or None."""
    try:
        import torch.distributed as dist
    except ImportError as exc:  # pragma: no cover - every torch wheel has it
        return f"torch.distributed cannot be imported: {exc}"
    if not dist.is_available():
        return "torch.distributed is not available in this torch build"
    if not dist.is_gloo_available():
        return "the gloo backend of torch.distributed is not available in this torch build"
    return None


# -- the test process's side ----------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(spec: str, out_dir: Path, timeout: float, target_spec: str = "none") -> str | None:
    """Run every configuration in :data:`WORLD_SIZE` rank processes; results land in ``out_dir``.

    Returns None when every rank exited cleanly, else what went wrong (an exit status, a
    timeout) with the tail of the ranks' output. The ranks import the target by ``spec`` with
    this process's ``sys.path`` and attach ``target_spec`` (its state mapping: a reference, or
    "none"), one thread each, and die with this process.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join(os.path.abspath(p) if p else os.getcwd() for p in sys.path)
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "WORLD_SIZE": str(WORLD_SIZE),
           "ADAGRAD_DISTRIBUTED_PARENT": str(os.getpid())}  # fmt: skip
    procs, logs = [], []
    for rank in range(WORLD_SIZE):
        log = open(out_dir / f"rank{rank}.log", "w+b")  # closed below, after the ranks exit
        logs.append(log)
        command = [
            sys.executable,
            "-m",
            "adagrad.conformance.engine.distributed_ranks",
            spec,
            str(out_dir),
            target_spec,
        ]
        procs.append(subprocess.Popen(command, env={**env, "RANK": str(rank)}, stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL))  # fmt: skip
    deadline = time.monotonic() + timeout
    problem = None
    try:
        for rank, proc in enumerate(procs):
            try:
                status = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                problem = f"the ranks did not finish within {timeout:.0f} s (the target hangs, or a collective waits)"
                break
            if status != 0 and problem is None:
                problem = f"rank {rank} exited with status {status}"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        tails = []
        for rank, log in enumerate(logs):
            log.seek(0)
            text = log.read().decode(errors="replace").strip()
            log.close()
            if text:
                tails.append(f"--- rank {rank} output (tail) ---\n{text[-3000:]}")
    if problem is None:
        return None
    return "\n".join([problem, *tails])


# -- the ranks' side --------------------------------------------------------------------------------
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


def _values(bits: tuple[str, Any]) -> Any:
    from adagrad.conformance.engine.tensor_bits import decode_bits

    return decode_bits(bits[1], bits[0])


def _build_model(widths: tuple[int, ...]) -> Any:
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(widths, widths[1:])):
        layers += [nn.Linear(n_in, n_out)] + ([nn.Tanh()] if i < len(widths) - 2 else [])
    return nn.Sequential(*layers)


def _wrap(kind: str, model: Any) -> Any:
    from torch import nn

    if kind == "ddp":
        return nn.parallel.DistributedDataParallel(model)
    try:
        from torch.distributed.fsdp import fully_shard
    except ImportError:  # torch 2.4-2.5 kept it under _composable
        from torch.distributed._composable.fsdp import fully_shard
    for layer in model:
        if isinstance(layer, nn.Linear):
            fully_shard(layer)
    fully_shard(model)
    return model


def _fsdp2_missing() -> str | None:
    try:
        from torch.distributed.fsdp import fully_shard  # noqa: F401
    except ImportError:
        try:
            from torch.distributed._composable.fsdp import fully_shard  # noqa: F401
        except ImportError:
            return "this torch has no FSDP2 (torch.distributed.fsdp.fully_shard, torch >= 2.4)"
    return None


def _batch(step: int, widths: tuple[int, ...]) -> tuple[Any, Any]:
    """The same batch on every rank: gradients are the same everywhere, averaging is exact."""
    import torch

    gen = torch.Generator().manual_seed(100 + step)
    return torch.randn(BATCH, widths[0], generator=gen), torch.randn(BATCH, widths[-1], generator=gen)


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
    if config.wrap == "fsdp2" and _fsdp2_missing():
        return RankResult(config.name, "unavailable", reason=_fsdp2_missing())
    widths = WIDTHS[config.wrap]
    model = _wrap(config.wrap, _build_model(widths))
    params = list(model.parameters())
    result = RankResult(config.name, "ran", options=config.options, initial=[_bits(p) for p in params])
    case = result.case()  # read_step needs its groups only
    try:
        opt = target.make(params, **HYPER, **config.options)
        for k in range(STEPS):
            x, y = _batch(k, widths)
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
        for config in configurations():
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
    # through the package, so that pickled results name adagrad.conformance.engine.distributed_ranks
    from adagrad.conformance.engine.distributed_ranks import main as _main

    sys.exit(_main())
