"""Measure how tight the error model is on torch.optim.Adagrad.

Runs torch's for-loop, foreach and fused paths on random free-running trajectories (default:
3,000 elements, 50 steps, four hyperparameter settings per dtype), follows the oracle and the
error model's bound (:class:`adagrad.conformance.engine.error_model.ErrorTracker`) along them, and
prints, per dtype, path and setting, the largest ``|torch - oracle| / bound`` over the parameter
and the accumulator, and the largest parameter error in ulps of the dtype (counted as the suite
counts them, at ``max(|after|, |before|)``). A ratio above 1 would
be a correct implementation outside the model (a bug in the model); near 1 means the bound is
tight there.

How the docs quote it: ``docs/error-model.md`` ("How tight it is") gives, per dtype, the largest
ratio over the paths and settings of the default run, which is the last block this prints
(``--summary`` prints only that)::

    .venv/bin/python tools/error_model_tightness.py --summary

The run is deterministic (``--seed``, default 0) on a given torch build; it takes about a
minute on one core.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from adagrad.conformance.engine.dtypes import DTYPES, FORMATS, round_to, torch_dtype, ulp
from adagrad.conformance.engine.error_model import ErrorTracker
from adagrad.reference import adagrad_step

PATHS = ("for-loop", "foreach", "fused")
#: Hyperparameter settings: defaults-like, all decays on, large weight decay and eps, eps = 0.
SETTINGS: tuple[dict[str, float], ...] = (
    dict(lr=0.1, lr_decay=0.0, weight_decay=0.0, eps=1e-10),
    dict(lr=0.5, lr_decay=0.1, weight_decay=0.1, eps=1e-3),
    dict(lr=1.0, lr_decay=0.0, weight_decay=0.5, eps=0.1),
    dict(lr=0.01, lr_decay=0.0, weight_decay=0.0, eps=0.0),
)
TAU = 0.1


@dataclass(frozen=True)
class Tightness:
    """One trajectory's result: the largest error relative to the bound, and in ulps."""

    dtype: str
    path: str
    hyper: dict[str, float]
    ratio: float
    ulps: float


def gradient_range(dtype: str) -> tuple[float, float]:
    """Gradient magnitudes drawn log-uniformly: float16's keep squares normal and sums finite."""
    return (2.0**-7, 16.0) if dtype == "float16" else (1e-6, 1e3)


def measure(
    dtype: str, path: str, hyper: dict[str, float], *, elements: int, steps: int, rng: np.random.Generator
) -> Tightness:
    """Run one trajectory of torch's ``path`` in ``dtype`` against the oracle and the bound."""
    lo, hi = gradient_range(dtype)
    p0 = round_to(rng.uniform(-2, 2, elements), dtype)
    grads = [
        round_to(rng.choice([-1, 1], elements) * np.exp(rng.uniform(np.log(lo), np.log(hi), elements)), dtype)
        for _ in range(steps)
    ]
    td = torch_dtype(dtype)
    param = torch.tensor(p0, dtype=td)
    flags: dict[str, Any] = {"foreach": path == "foreach", "fused": True if path == "fused" else None}
    opt = torch.optim.Adagrad([param], initial_accumulator_value=TAU, **hyper, **flags)
    op, osum, ostep = p0.copy(), np.full(elements, TAU), 0
    tracker = ErrorTracker(dtype, (elements,), initial_accumulator_value=TAU)
    ratio = ulps = 0.0
    for k in range(steps):
        param.grad = torch.tensor(grads[k], dtype=td)
        opt.step()
        bound = tracker.step(op, grads[k], osum, ostep, **hyper)
        before = op
        op, osum, ostep = adagrad_step(op, grads[k], osum, ostep, **hyper)
        err = np.abs(param.detach().double().numpy() - op)
        sum_err = np.abs(opt.state[param]["sum"].double().numpy() - osum)
        ratio = max(ratio, float((err / bound.param).max()), float((sum_err / bound.sum).max()))
        # ulps as the suite counts them: at the magnitude of the step, max(|after|, |before|)
        ulps = max(ulps, float((err / ulp(np.maximum(np.abs(op), np.abs(before)), FORMATS[dtype])).max()))
    return Tightness(dtype, path, dict(hyper), ratio, ulps)


def run(dtypes: tuple[str, ...], paths: tuple[str, ...], *, elements: int, steps: int, seed: int) -> list[Tightness]:
    """Every trajectory, in a fixed order, from one seeded generator."""
    rng = np.random.default_rng(seed)
    return [
        measure(d, path, h, elements=elements, steps=steps, rng=rng) for d in dtypes for path in paths for h in SETTINGS
    ]


def summary(results: list[Tightness]) -> dict[str, float]:
    """Per dtype, the largest ratio over paths and settings (what the docs quote)."""
    out: dict[str, float] = {}
    for r in results:
        out[r.dtype] = max(out.get(r.dtype, 0.0), r.ratio)
    return out


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", action="append", choices=DTYPES, help="repeatable; default: all")
    parser.add_argument("--path", action="append", choices=PATHS, help="repeatable; default: all")
    parser.add_argument("--elements", type=int, default=3000)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--summary", action="store_true", help="print only the per-dtype largest ratio")
    args = parser.parse_args(argv)
    if args.elements < 1 or args.steps < 1:
        parser.error("--elements and --steps must be positive")
    results = run(
        tuple(args.dtype or DTYPES), tuple(args.path or PATHS), elements=args.elements, steps=args.steps, seed=args.seed
    )
    if not args.summary:
        print("| dtype | path | hyperparameters | max err/bound | max ulps |")
        print("| --- | --- | --- | ---: | ---: |")
        for r in results:
            print(f"| {r.dtype} | {r.path} | {r.hyper} | {r.ratio:.3f} | {r.ulps:.1f} |")
        print()
    print("| dtype | largest err/bound |")
    print("| --- | ---: |")
    for dtype, ratio in summary(results).items():
        print(f"| {dtype} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
