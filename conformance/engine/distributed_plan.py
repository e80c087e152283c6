"""What the ``distributed`` feature runs and what its ranks hand back: the configurations,
the hyperparameters, and :class:`RankResult`, one per configuration, with where it is written.

Rank 0 writes, per configuration, a pickled :class:`RankResult`: the single-process
:class:`~.case.Case` that the run is equivalent to (initial parameters, the gradients the
optimizer received, the hyperparameters: all read bit-exactly with :mod:`.tensor_bits`) and the
target's trajectory (full parameters and accumulators gathered after every step). The oracle
judges it in the test process (``features/test_distributed.py``). The ranks are
:mod:`.distributed_ranks`, started by :mod:`.distributed_spawn`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "HYPER",
    "RESUME_AFTER",
    "STEPS",
    "WORLD_SIZE",
    "Configuration",
    "RankResult",
    "configurations",
    "result_path",
    "unavailable",
]

WORLD_SIZE = 2
STEPS = 3
RESUME_AFTER = 2  # the state_dict round trip follows this step
#: The lr only: every other hyperparameter at its default (they are the hyperparameters
#: feature's subject), so a library without, say, lr_decay is still checked under DDP and FSDP2.
HYPER: dict[str, Any] = dict(lr=0.05)


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


def _values(bits: tuple[str, Any]) -> Any:
    from adagrad.conformance.engine.tensor_bits import decode_bits

    return decode_bits(bits[1], bits[0])
