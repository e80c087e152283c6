"""What the three confirmation scripts share: one printed line per cause, an exception as an
outcome, a short trajectory, and the command line. Plain torch; nothing of the suite.

Each script is named like its library (``torchopt.py``, ``bitsandbytes.py``, ``deepspeed.py``)
and starts with :func:`library_first` so that ``import torchopt`` finds the library, not itself.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch

warnings.filterwarnings("ignore")

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def library_first(script: str) -> None:
    """Put the script's own folder last on sys.path: ``import torchopt`` in ``torchopt.py`` then
    imports the library (this folder stays importable for ``_common``)."""
    here = os.path.dirname(os.path.abspath(script))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here] + [here]


def say(cause: str, torch_gives: object, lib: str, lib_gives: object) -> None:
    """The one line a cause prints."""
    print(f"{cause}: torch gives {torch_gives}, {lib} gives {lib_gives}")


def outcome(call: Callable[[], Any], width: int = 110) -> str:
    """What a call does: its value (repr), "no exception" for None, or the exception it raises."""
    try:
        value = call()
    except Exception as exc:  # noqa: BLE001 - the exception is the answer
        text = _ANSI.sub("", " ".join(str(exc).split()))
        return f"{type(exc).__name__}: {text[:width]}"
    return "no exception" if value is None else repr(value)


def kind(call: Callable[[], Any]) -> str:
    """Only the exception's type (or "accepted")."""
    text = outcome(lambda: call() and None)
    return "accepted" if text == "no exception" else text.split(":")[0]


def trajectory(
    factory: Callable[..., Any],
    grads: Sequence[Sequence[float]],
    dtype: torch.dtype = torch.float64,
    init: Sequence[float] = (1.0, -2.0),
    group: dict[str, Any] | None = None,
    **hyper: Any,
) -> torch.Tensor:
    """The param after one step per gradient, from ``init`` (``group``: its param group's own keys)."""
    p = torch.tensor(init, dtype=dtype, requires_grad=True)
    opt = factory([{"params": [p], **group}] if group else [p], **hyper)
    for g in grads:
        p.grad = torch.tensor(g, dtype=dtype)
        opt.step()
    return p.detach()


def ulps(got: torch.Tensor, want: torch.Tensor) -> float:
    """Largest |got - want| in units of the last place of ``want`` (in ``want``'s dtype)."""
    a = want.abs()
    spacing = torch.nextafter(a, torch.full_like(a, float("inf"))) - a
    return float(((got.to(want.dtype) - want).abs() / spacing).max())


def main(causes: Sequence[Callable[[], None]]) -> None:
    """Run the causes named on the command line (all without arguments)."""
    chosen = sys.argv[1:]
    unknown = sorted(set(chosen) - {c.__name__ for c in causes})
    if unknown:
        sys.exit(f"unknown cause(s) {', '.join(unknown)}; known: {', '.join(c.__name__ for c in causes)}")
    for cause in causes:
        if not chosen or cause.__name__ in chosen:
            cause()


def sparse_step(factory: Callable[..., Any]) -> str:
    """One step with a sparse COO gradient on a 4 x 2 param: row 0 after it, or the exception."""
    p = torch.ones(4, 2, requires_grad=True)
    opt = factory([p], lr=0.1)
    p.grad = torch.sparse_coo_tensor([[0, 0, 3]], torch.ones(3, 2), (4, 2))

    def step() -> list[float]:
        opt.step()
        return p.detach()[0].tolist()

    return outcome(step)


def grad_after_step(factory: Callable[..., Any]) -> str:
    """What ``p.grad`` holds after one step (torch leaves the gradient as given)."""
    p = torch.tensor([1.0, -2.0], requires_grad=True)
    g = torch.tensor([0.5, 0.25])
    p.grad = g.clone()
    factory([p], lr=0.1).step()
    return f"p.grad {p.grad.tolist()} (given {g.tolist()})"


def half_accumulators(factory: Callable[..., Any], accumulator: Callable[[Any, torch.Tensor], torch.Tensor]) -> str:
    """The accumulator's dtype after one step, for a float16 and a bfloat16 param."""
    dtypes = []
    for dtype in (torch.float16, torch.bfloat16):
        p = torch.ones(2, dtype=dtype, requires_grad=True)
        opt = factory([p], lr=0.1)
        p.grad = torch.ones(2, dtype=dtype)
        opt.step()
        dtypes.append(f"{dtype} param: {accumulator(opt, p).dtype} accumulator")
    return ", ".join(dtypes)
