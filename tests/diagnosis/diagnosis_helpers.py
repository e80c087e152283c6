"""Cases that exercise every variant of the catalogue, and records made by running a target on them."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import numpy as np

from adagrad.conformance.diagnosis import Record
from adagrad.conformance.engine.dtypes import round_to
from adagrad.conformance.engine.harness import Case, run_target
from adagrad.conformance.engine.target import Target
from adagrad.reference import SparseGrad

ROOT = Path(__file__).resolve().parents[2]

ALL_ON = dict(lr=0.3, lr_decay=0.1, weight_decay=0.05, initial_accumulator_value=0.2, eps=1e-3, maximize=True)
PLAIN = dict(lr=0.1, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10, maximize=False)


def _r(x: Any, dtype: str) -> np.ndarray:
    return round_to(np.asarray(x, dtype=np.float64), dtype)


def _dense_case(rng: np.random.Generator, dtype: str, hyper: dict[str, Any], steps: int = 4, **extra: Any) -> Case:
    params = [_r(rng.uniform(-2, 2, 5), dtype), _r(rng.uniform(-2, 2, (2, 3)), dtype)]
    grads = [
        [
            _r(rng.choice([-1, 1], 5) * rng.uniform(0.05, 1.5, 5), dtype),
            _r(rng.choice([-1, 1], (2, 3)) * rng.uniform(0.05, 1.5, (2, 3)), dtype),
        ]
        for _ in range(steps)
    ]
    return Case(dtype=dtype, params=params, grads=grads, groups=[{**hyper, "params": [0, 1]}], **extra)


def fixed_cases(*, dense_only: bool = False) -> list[Case]:
    """Fixed cases, each showing some variants' difference (the comment says which)."""
    rng = np.random.default_rng(14)
    cases = []
    # every flag on, a missing gradient (R3-R7, R15, counters), float64 and float32
    for dtype in ("float64", "float32"):
        c = _dense_case(rng, dtype, ALL_ON)
        c.grads[2][1] = None
        cases.append(c)
    # eps tiny and eps zero with lr_decay; a zero gradient on an empty accumulator (0/0, R7)
    cases.append(_dense_case(rng, "float64", PLAIN))
    c = _dense_case(rng, "float64", {**PLAIN, "eps": 0.0, "lr_decay": 0.05})
    c.grads[0][0][1] = 0.0
    cases.append(c)
    # tau given, maximize without weight decay
    cases.append(
        _dense_case(rng, "float64", {**PLAIN, "initial_accumulator_value": 0.5, "maximize": True, "lr_decay": 0.2})
    )
    # teacher forcing at a late step (group counters, the step counter's dtype)
    c = _dense_case(rng, "float64", {**ALL_ON, "maximize": False}, steps=2)
    c.start = [(_r(rng.uniform(0.5, 3, 5), "float64"), 37), (_r(rng.uniform(0.5, 3, (2, 3)), "float64"), 37)]
    cases.append(c)
    for dtype, t0 in (("bfloat16", 1000), ("float16", 3001)):
        c = _dense_case(rng, dtype, {**PLAIN, "lr_decay": 0.01, "eps": 1e-3}, steps=2)
        c.start = [(_r(rng.uniform(0.5, 3, 5), dtype), t0), (_r(rng.uniform(0.5, 3, (2, 3)), dtype), t0)]
        cases.append(c)
    # an lr edited between steps (R31)
    cases.append(_dense_case(rng, "float64", {**PLAIN, "lr": 0.2}, steps=3, edits={1: [(0, "lr", 0.05)]}))
    # non-finite gradients (R25)
    c = _dense_case(rng, "float64", PLAIN, steps=2)
    c.grads[1][0][0], c.grads[1][1][0, 1] = np.inf, np.nan
    cases.append(c)
    if not dense_only:
        # an uncoalesced sparse gradient (R9)
        idx = np.array([[0, 2, 0, 3]])
        sparse = [[SparseGrad(idx, rng.uniform(-1, 1, (4, 2)), (5, 2))] for _ in range(3)]
        cases.append(
            Case(dtype="float64", params=[rng.uniform(-1, 1, (5, 2))], grads=sparse, groups=[{**PLAIN, "params": [0]}])
        )
        # a complex parameter (R11)
        z = rng.uniform(-1, 1, 4) + 1j * rng.uniform(-1, 1, 4)
        gz = [[rng.uniform(-1, 1, 4) + 1j * rng.uniform(-1, 1, 4)] for _ in range(3)]
        cases.append(Case(dtype="complex128", params=[z], grads=gz, groups=[{**ALL_ON, "params": [0]}]))
    # subnormal parameters and a subnormal lr (with 20 bits of precision left): the updates are
    # subnormal too (flush-to-zero, R30); gradients of at least 0.5 keep the denominators away from 0
    for dtype, tiny in (("float64", 2.0**-1022), ("float32", 2.0**-126)):
        params = [_r(rng.uniform(-1, 1, 8) * tiny, dtype)]
        grads = [[_r(rng.choice([-1, 1], 8) * rng.uniform(0.5, 2, 8), dtype)] for _ in range(2)]
        lr = tiny * 2.0**-4
        cases.append(Case(dtype=dtype, params=params, grads=grads, groups=[{**PLAIN, "lr": lr, "params": [0]}]))
    return cases


def drawn_cases(seed: int, count: int = 3) -> list[Case]:
    """Cases with random hyperparameters (each flag on or off), float64 or float32."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        hyper = {
            "lr": float(rng.uniform(1e-3, 1.0)),
            "lr_decay": float(rng.uniform(1e-3, 0.5)) if rng.random() < 0.5 else 0.0,
            "weight_decay": float(rng.uniform(1e-3, 0.5)) if rng.random() < 0.5 else 0.0,
            "initial_accumulator_value": float(rng.uniform(1e-3, 1.0)) if rng.random() < 0.5 else 0.0,
            "eps": float(rng.choice([1e-10, 0.1, 0.0])),
            "maximize": bool(rng.random() < 0.5),
        }
        out.append(_dense_case(rng, str(rng.choice(["float64", "float32"])), hyper, steps=int(rng.integers(1, 6))))
    return out


def target_records(target: Target, cases: list[Case]) -> list[Record]:
    """Records of ``target`` on ``cases`` (cases it refuses with an exception are left out)."""
    records = []
    for i, case in enumerate(cases):
        try:
            traj = list(run_target(target, case))
        except (RuntimeError, NotImplementedError):  # a path the target does not have (zoo: dense real only)
            continue
        records.append(Record(case, traj, f"case{i}"))
    return records


def load_zoo() -> Any:
    """The mutant zoo (``tests.conformance.zoo``, the package the checks name targets in)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("tests.conformance.zoo")
