"""The model and data the ranks of the ``distributed`` feature train: a small MLP, wrapped in
FSDP2 (``fully_shard``) or DDP, and the same batches on every rank.

Under FSDP2 the MLP has one weight above :data:`LARGE` elements, rows that split unevenly over
2 ranks and a 1-row weight whose second shard is empty (:data:`WIDTHS`). torch is imported only
when a function runs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BATCH", "LARGE", "SEED", "WIDTHS", "batch", "build_model", "fsdp2_missing", "wrap"]

BATCH = 8
SEED = 1234
#: Above this many elements an implementation may split a tensor (impl's foreach path did, with
#: ``view(-1).narrow``, which on a sharded DTensor returns a copy); the model has one such weight.
LARGE = 2**19
#: The MLP's layer widths per wrapper. FSDP2: a 514 x 1024 weight (526,336 elements > LARGE)
#: split evenly (an uneven split of it makes ``view(-1)`` raise in torch 2.13 rather than copy),
#: 7 rows split unevenly over 2 ranks, a 1-row weight whose second shard is empty. DDP keeps
#: whole tensors on every rank: a small model is enough (and cheap to judge).
WIDTHS = {"fsdp2": (1024, 514, 7, 1), "ddp": (64, 33, 7, 1)}


def build_model(widths: tuple[int, ...]) -> Any:
    """The MLP with these layer widths (Tanh between layers), seeded: the same on every rank."""
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(widths, widths[1:])):
        layers += [nn.Linear(n_in, n_out)] + ([nn.Tanh()] if i < len(widths) - 2 else [])
    return nn.Sequential(*layers)


def wrap(kind: str, model: Any) -> Any:
    """``model`` (an ``nn.Sequential``) under DDP (``kind == "ddp"``) or FSDP2: every Linear
    layer, then the whole model, ``fully_shard``-ed (a collective: every rank calls it)."""
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


def fsdp2_missing() -> str | None:
    """Why this torch has no FSDP2, or None."""
    try:
        from torch.distributed.fsdp import fully_shard  # noqa: F401
    except ImportError:
        try:
            from torch.distributed._composable.fsdp import fully_shard  # noqa: F401
        except ImportError:
            return "this torch has no FSDP2 (torch.distributed.fsdp.fully_shard, torch >= 2.4)"
    return None


def batch(step: int, widths: tuple[int, ...]) -> tuple[Any, Any]:
    """The same batch on every rank: gradients are the same everywhere, averaging is exact."""
    import torch

    gen = torch.Generator().manual_seed(100 + step)
    return torch.randn(BATCH, widths[0], generator=gen), torch.randn(BATCH, widths[-1], generator=gen)
