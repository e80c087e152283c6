"""The worker of ``test_impl_distributed.py``: every configuration, run in each of 2 processes.

Kept out of the test module so that ``torch.multiprocessing.spawn`` children import only this
(and torch), not pytest and the test helpers. The FSDP2/DDP wrapping is the conformance suite's
(:func:`adagrad.conformance.engine.distributed_model.wrap`, which imports only the standard
library until it runs): the same wrapping for the suite's ranks and these.

Each configuration trains a small MLP for :data:`STEPS` steps with the same data on every rank
(so the averaged gradient equals the single-process gradient exactly), wrapped in FSDP2 or DDP,
and after every step compares every element of every parameter and accumulator with the same
optimizer stepping the unwrapped model in this process: bitwise. Halfway through, the optimizer
is saved with ``get_optimizer_state_dict`` and a fresh one is loaded with
``set_optimizer_state_dict`` (the run must not notice).
"""

from __future__ import annotations

import copy
import datetime
import os
import traceback
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from adagrad.conformance.engine import distributed_model
from adagrad.impl import foreach as foreach_module
from adagrad.impl import targets

STEPS = 5
RESUME_AFTER = 2  # state_dict round trip after this many steps
BATCH = 8

#: The optimizer paths, each a factory ``f(params, **hyper)``.
PATHS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "for_loop": targets.for_loop,
    "foreach": targets.foreach,
    "fused": targets.fused,
}

HYPER: dict[str, dict[str, Any]] = {
    "plain": dict(lr=0.05),
    "all_on": dict(lr=0.05, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1,
                   eps=1e-8, maximize=True),
}  # fmt: skip


def build_model(dtype: torch.dtype) -> nn.Module:
    """1024 -> 600 -> 7 -> 1: a 614,400-element weight (above 2**19, the foreach path's slicing
    threshold), rows that split unevenly over 2 ranks (7) and a 1-row weight whose second shard
    is empty."""
    torch.manual_seed(1234)
    model = nn.Sequential(nn.Linear(1024, 600), nn.Tanh(), nn.Linear(600, 7), nn.Tanh(), nn.Linear(7, 1))
    return model.to(dtype)


def batch(step: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The same batch on every rank (replicated data)."""
    gen = torch.Generator().manual_seed(100 + step)
    return torch.randn(BATCH, 1024, generator=gen).to(dtype), torch.randn(BATCH, 1, generator=gen).to(dtype)


def configurations() -> list[dict[str, Any]]:
    """Every configuration the worker runs (one spawn runs them all)."""
    out = []
    for wrap in ("fsdp2", "ddp"):
        for path in PATHS:
            for hyper in HYPER:
                out.append(dict(wrap=wrap, path=path, hyper=hyper, dtype=torch.float32, batch_elements=None))
    # The foreach path's batching on local shards, with batches small enough that the 300 x 1024
    # local shard of the large weight is sliced too.
    out.append(dict(wrap="fsdp2", path="foreach", hyper="all_on", dtype=torch.float32, batch_elements=1 << 14))
    # Half precision: the foreach path's float32 copies and copy-back on local shards.
    out.append(dict(wrap="fsdp2", path="foreach", hyper="all_on", dtype=torch.bfloat16, batch_elements=None))
    return out


def config_name(c: dict[str, Any]) -> str:
    """A readable name for a configuration."""
    extra = f"-batch{c['batch_elements']}" if c["batch_elements"] else ""
    return f"{c['wrap']}-{c['path']}-{c['hyper']}-{str(c['dtype']).removeprefix('torch.')}{extra}"


def _full(t: torch.Tensor) -> torch.Tensor:
    """The whole tensor (a DTensor is gathered; a collective: every rank must call it)."""
    return t.full_tensor() if hasattr(t, "full_tensor") else t


def _compare(name: str, step: int, model: nn.Module, opt: Any, ref: nn.Module, ref_opt: Any) -> list[str]:
    problems = []
    for (pname, p), q in zip(model.named_parameters(), ref.parameters(), strict=True):
        pairs = [("param", _full(p.detach()), q.detach())]
        state, ref_state = opt.state[p], ref_opt.state[q]
        pairs.append(("sum", _full(state["sum"]), ref_state["sum"]))
        pairs.append(("step", _full(state["step"]), ref_state["step"]))
        for what, got, want in pairs:
            if got.shape != want.shape or not torch.equal(got, want):
                bad = (got != want).sum().item() if got.shape == want.shape else "shape"
                problems.append(
                    f"{name}: step {step}: {pname} {what}: {bad} element(s) differ from the single-process run"
                )
    return problems


def _step(model: nn.Module, opt: Any, x: torch.Tensor, y: torch.Tensor) -> None:
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()


def run_configuration(c: dict[str, Any]) -> list[str]:
    """Runs one configuration; returns what differed (empty when bitwise equal throughout)."""
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict, set_optimizer_state_dict

    name = config_name(c)
    make = PATHS[c["path"]]
    hyper = HYPER[c["hyper"]]
    saved_batch = foreach_module.BATCH_ELEMENTS
    if c["batch_elements"]:
        foreach_module.BATCH_ELEMENTS = c["batch_elements"]
    try:
        ref = build_model(c["dtype"])
        model = distributed_model.wrap(c["wrap"], copy.deepcopy(ref))
        ref_opt = make(ref.parameters(), **hyper)
        opt = make(model.parameters(), **hyper)
        problems: list[str] = []
        for step in range(1, STEPS + 1):
            x, y = batch(step, c["dtype"])
            _step(ref, ref_opt, x, y)
            _step(model, opt, x, y)
            problems += _compare(name, step, model, opt, ref, ref_opt)
            if step == RESUME_AFTER:
                osd = get_optimizer_state_dict(model, opt)
                opt = make(model.parameters(), lr=1.0)  # hyperparameters come from the state
                set_optimizer_state_dict(model, opt, osd)
                problems += _compare(f"{name} (after the state_dict round trip)", step, model, opt, ref, ref_opt)
            if problems:
                break
        return problems
    finally:
        foreach_module.BATCH_ELEMENTS = saved_batch


def run_mixed_layouts(world_size: int) -> list[str]:
    """DTensors whose gradient is laid out unlike the parameter (``Replicate``, or a pending
    ``Partial`` sum) cannot be updated shard by shard: the foreach path must hand them to the
    for-loop (same results as plain tensors, bitwise) and the fused path must refuse them."""
    from torch.distributed.device_mesh import init_device_mesh

    try:
        from torch.distributed.tensor import DTensor, Partial, Replicate, Shard, distribute_tensor
    except ImportError:  # torch < 2.5
        from torch.distributed._tensor import DTensor, Partial, Replicate, Shard, distribute_tensor

    from adagrad.impl import adagrad

    mesh = init_device_mesh("cpu", (world_size,))
    gen = torch.Generator().manual_seed(7)
    p0, s0 = torch.randn(9, 5, generator=gen), torch.rand(9, 5, generator=gen)
    g0 = torch.randn(9, 5, generator=gen)
    hyper = dict(lr=0.1, weight_decay=0.01, lr_decay=0.01, eps=1e-10, maximize=False)
    p_ref, s_ref, t_ref = p0.clone(), s0.clone(), torch.zeros((), dtype=torch.float64)
    adagrad([p_ref], [g0], [s_ref], [t_ref], foreach=False, **hyper)

    def partial() -> Any:
        # Each rank holds an equal part of g0: the pending sum is exactly g0.
        return DTensor.from_local(g0 / world_size, mesh, [Partial()])

    # (name, param/sum placement, gradient, whether the fused path must refuse it)
    cases = [
        ("shard-param-replicate-grad", Shard(0), lambda: distribute_tensor(g0.clone(), mesh, [Replicate()]), True),
        ("shard-param-partial-grad", Shard(0), partial, True),
        # Same local shapes: only the Partial placement tells that the local values are not g.
        ("replicate-param-partial-grad", Replicate(), partial, True),
        # Laid out alike: updated locally on every path.
        (
            "replicate-param-replicate-grad",
            Replicate(),
            lambda: distribute_tensor(g0.clone(), mesh, [Replicate()]),
            False,
        ),
    ]
    problems = []
    for name, placement, make_grad, refused in cases:
        for path in ("foreach", "fused"):
            # (clones: a replicated DTensor may share the source tensor's memory)
            p = distribute_tensor(p0.clone(), mesh, [placement])
            s = distribute_tensor(s0.clone(), mesh, [placement])
            t = torch.zeros((), dtype=torch.float64)
            try:
                adagrad([p], [make_grad()], [s], [t], foreach=path == "foreach", fused=path == "fused", **hyper)
            except RuntimeError as e:
                if not (path == "fused" and refused and "shard by shard" in str(e)):
                    problems.append(f"{name}-{path}: raised {e!r}")
                continue
            if path == "fused" and refused:
                problems.append(f"{name}-fused: no RuntimeError for a gradient laid out unlike its parameter")
                continue
            for what, got, want in (("param", p.full_tensor(), p_ref), ("sum", s.full_tensor(), s_ref)):
                # The fused kernel rounds differently from the for-loop (FMA, sqrt): only the
                # unfused paths are compared bitwise with the plain for-loop.
                if path == "foreach" and not torch.equal(got, want):
                    problems.append(
                        f"{name}-{path}: {what}: {(got != want).sum().item()} element(s) differ from plain tensors"
                    )
    return problems


def run(rank: int, world_size: int, init_file: str, names: list[str] | None) -> None:
    """The spawned process: joins the gloo group, runs every configuration, raises on any
    difference (``torch.multiprocessing.spawn`` re-raises it in the parent with its text)."""
    torch.set_num_threads(1)
    os.environ.pop("TRITON_INTERPRET", None)  # the fused path uses torch's CPU kernel here
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size,
        timeout=datetime.timedelta(seconds=120),
    )  # fmt: skip
    problems: list[str] = []
    try:
        for c in configurations():
            if names is not None and config_name(c) not in names:
                continue
            try:
                problems += run_configuration(c)
            except Exception:
                problems.append(f"{config_name(c)}: raised\n{traceback.format_exc()}")
        if names is None or "mixed" in names:
            try:
                problems += run_mixed_layouts(world_size)
            except Exception:
                problems.append(f"mixed layouts: raised\n{traceback.format_exc()}")
    finally:
        # Both ranks finish their collectives before either tears gloo down: a rank that destroys
        # the group while its peer still talks to it aborts the peer ("terminate called without an
        # active exception", seen about once in three runs).
        dist.barrier()
        dist.destroy_process_group()
    if problems:
        raise AssertionError(f"rank {rank}:\n" + "\n".join(problems))
