"""Synthetic reports (schema_version 2) for the renderers' tests and ``make report-check``.

They look like real runs (every feature, paths, per-step errors, golden cases) but are built
here, so the renderers can be tested without running the suite. Numbers are drawn from a seeded
generator: the same report every time.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from adagrad.conformance.features import FEATURES
from adagrad.conformance.reporting.summary import verdict

__all__ = ["base_report", "failing_report", "passing_report", "result"]

_SNIPPET = """import torch
from mypkg import Adagrad

p = torch.tensor([0.5, -1.25, 3.0], dtype=torch.float64, requires_grad=True)
opt = Adagrad([p], lr=0.1, eps=1e-3)
for g in ([0.5, 0.25, -1.0], [0.125, -0.5, 2.0], [1.0, 1.0, 1.0]):
    p.grad = torch.tensor(g, dtype=torch.float64)
    opt.step()
print(p)  # the oracle gives [0.3182..., -1.2012..., 2.9128...]"""


def result(test_id: str, feature: str, outcome: str = "passed", **fields: Any) -> dict[str, Any]:
    """One result dict with every key of the schema; ``fields`` override the defaults."""
    out: dict[str, Any] = {
        "id": test_id,
        "feature": feature,
        "path": None,
        "outcome": outcome,
        "worst_ulps": None,
        "tolerance_ulps": None,
        "case_size": None,
        "duration": 0.05,
        "step_ulps": [],
        "unsupported": [],
        "divergence": None,
        "message": "",
        "failure": None,
    }
    out.update(fields)
    return out


def base_report(results: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """A complete report dict around ``results``; its verdict is computed unless given."""
    out: dict[str, Any] = {
        "schema_version": 2,
        "target": "mypkg.optim:Adagrad",
        "adapter": "torch",
        "description": "mypkg.optim:Adagrad (torch Optimizer API)",
        "profile": "quick",
        "seed": 0,
        "strict": False,
        "environment": {
            "python": "3.11.2",
            "torch": "2.13.0+cpu",
            "pytest": "8.3.3",
            "hypothesis": "6.112.0",
            "plugins": ["xdist-3.6.1", "timeout-2.3.1"],
            "command": ["python", "-m", "pytest", "--pyargs", "adagrad.conformance"],
        },
        "excluded": [],
        "not_claimed": [],
        "results": results,
        "run": {"status": "complete", "reason": None, "timeouts": 0, "wall_seconds": 24.6},
        "problems": [],
        "divergences": [],
        "stale_divergences": [],
        "diagnosis": None,
        "verdict": "conformant",
    }
    out.update(fields)
    if "verdict" not in fields:
        out["verdict"] = verdict(out)[0]
    return out


def _series(rng: random.Random, steps: int, level: float, exact: bool = False) -> list[float]:
    """Per-step worst errors that grow slowly, as carried rounding errors do (0 when exact)."""
    if exact:
        return [0.0] * steps
    return [round(level * rng.uniform(0.2, 1.0) * (1 + i / 8), 3) if rng.random() > 0.15 else 0.0 for i in range(steps)]


_NUMERIC = {  # feature -> (test id prefix, dtypes, tolerance in ulps)
    "numerics-float64": ("test_numerics.py::test_free_running", ["float64"], 6.0),
    "numerics-float32": ("test_numerics.py::test_free_running", ["float32"], 6.0),
    "numerics-float16": ("test_numerics.py::test_free_running", ["float16"], 1.0),
    "numerics-bfloat16": ("test_numerics.py::test_free_running", ["bfloat16"], 1.0),
    "hyperparameters": ("test_hyperparameters.py::test_flag_combination", ["float64", "float32"], 6.0),
    "foreach": ("test_paths.py::test_foreach_matches_oracle", ["float32", "float64"], 6.0),
    "fused": ("test_paths.py::test_fused_matches_oracle", ["float32", "float64"], 6.0),
    "layouts": ("test_layouts.py::test_layout", ["float32"], 6.0),
}


def passing_report() -> dict[str, Any]:
    """A conformant run: every feature passes, errors within the error model, a few exact."""
    rng = random.Random(2)
    results = []
    for feature in FEATURES:
        if feature in _NUMERIC:
            prefix, dtypes, tol = _NUMERIC[feature]
            path = {"foreach": "foreach", "fused": "fused"}.get(feature)
            for k in range(4):
                dtype = dtypes[k % len(dtypes)]
                exact = dtype in ("float16", "bfloat16") and k == 0
                series = [{"dtype": dtype, "errors": _series(rng, 6 + 2 * k, tol / 4, exact)}]
                worst = max(series[0]["errors"])
                results.append(
                    result(
                        f"{prefix}[{dtype}-{k}]",
                        feature,
                        path=path,
                        worst_ulps=worst,
                        tolerance_ulps=tol,
                        case_size=12 * (k + 1),
                        step_ulps=series,
                    )
                )
        elif feature == "golden":
            for k in range(40):
                dtype = ("float64", "float32", "float16", "bfloat16")[k % 4]
                tol = 6.0 if dtype in ("float64", "float32") else 1.0
                worst = 0.0 if k % 5 == 0 else round(rng.uniform(0.05, 0.9) * tol, 3)
                results.append(
                    result(
                        f"test_golden.py::test_golden_trajectory[case{k:02d}-{dtype}]",
                        feature,
                        worst_ulps=worst,
                        tolerance_ulps=tol,
                        case_size=40 + k,
                    )
                )
        else:
            for k in range(3):
                results.append(result(f"test_{feature.replace('-', '_')}.py::test_{k}", feature))
    return base_report(results)


def failing_report() -> dict[str, Any]:
    """A non-conformant run with one of everything a renderer must show."""
    report = copy.deepcopy(passing_report())
    results = report["results"]
    rng = random.Random(3)
    # eps inside the square root: hyperparameter cases with a large eps fail from step 1
    hyper = [r for r in results if r["feature"] == "hyperparameters"]
    for k, r in enumerate(hyper[:3]):
        errors = [round(3e3 * (i + 1) * rng.uniform(0.8, 1.2), 1) for i in range(4 + 2 * k)]
        r.update(
            outcome="failed",
            worst_ulps=max(errors),
            case_size=3 * len(errors) + k,
            step_ulps=[{"dtype": "float64", "errors": errors}],
            message="E   ConformanceFailure: " + "float64 {'eps': 0.001}: param 0 after step 1: ..." * 3,
            failure={
                "statement": "float64 {'lr': 0.1, 'eps': 0.001, 'weight_decay': 0.0, 'lr_decay': 0.0, "
                "'initial_accumulator_value': 0.0, 'maximize': False}: param 0 after step 1: "
                "3 of 3 element(s) outside the error model; worst at (1,): target "
                "-1.2012345678901234, oracle -1.2011940598754894, |diff| 4.05e-05 = "
                f"{max(errors):.0f} ulps, tolerance 6 ulps",
                "step": 1,
                "tensor": "param",
                "tensor_index": 0,
                "index": [1],
                "target": -1.2012345678901234,
                "oracle": -1.2011940598754894,
                "ulps": max(errors),
                "tolerance_ulps": 6.0,
                "snippet": _SNIPPET,
            },
        )
    # the fused path loses updates on non-contiguous tensors: fails at step 3, then stays off
    fused = [r for r in results if r["feature"] == "fused"]
    fused[1].update(
        outcome="failed",
        worst_ulps=None,
        case_size=24,
        step_ulps=[{"dtype": "float64", "errors": [0.5, 1.0, 4.2e6, 8.1e6, None, None]}],
        failure={
            "statement": "fused float64: sum 0 after step 3: 2 of 8 element(s) outside the error "
            "model; worst at (0, 3): target 0.0, oracle 1.5, |diff| 1.5 = 6.8e15 ulps",
            "step": 3,
            "tensor": "sum",
            "tensor_index": 0,
            "index": [0, 3],
            "target": 0.0,
            "oracle": 1.5,
            "ulps": 6.8e15,
            "tolerance_ulps": 6.0,
            "snippet": _SNIPPET,
        },
        message="E   ConformanceFailure: fused float64: sum 0 after step 3",
    )
    fused[2].update(
        outcome="crashed",
        worst_ulps=None,
        step_ulps=[],
        message="the worker process died running this test (signal 6, SIGABRT)",
    )
    fused[3].update(outcome="xfailed", divergence="D5", worst_ulps=None, step_ulps=[])
    layouts = [r for r in results if r["feature"] == "layouts"]
    layouts[0].update(
        outcome="timed-out",
        path="fused",
        step_ulps=[],
        worst_ulps=None,
        message="the watchdog stopped this test after its 20 s limit (step 2 of 6 had run)",
    )
    golden = [r for r in results if r["feature"] == "golden"]
    for r in golden[1::9]:
        r.update(
            outcome="failed",
            worst_ulps=round(r["tolerance_ulps"] * rng.uniform(2, 40), 1),
            message="E   ConformanceFailure: golden case outside the error model",
            failure={
                "statement": f"{r['id']}: param 0 after step 7 outside the error model",
                "step": 7,
                "tensor": "param",
                "tensor_index": 0,
                "index": [0],
                "target": 0.25,
                "oracle": 0.2500019,
                "ulps": 40.0,
                "tolerance_ulps": r["tolerance_ulps"],
                "snippet": None,
            },
        )
    golden[4].update(
        outcome="failed",
        worst_ulps=None,
        message="E   ConformanceFailure: target NaN where the oracle is finite",
        failure={
            "statement": f"{golden[4]['id']}: param 0 after step 2: target nan, oracle 0.75",
            "step": 2,
            "tensor": "param",
            "tensor_index": 0,
            "index": [3],
            "target": float("nan"),
            "oracle": 0.75,
            "ulps": None,
            "tolerance_ulps": golden[4]["tolerance_ulps"],
            "snippet": None,
        },
    )
    hooks = [r for r in results if r["feature"] == "hooks"]
    hooks[0].update(
        outcome="unsupported", unsupported=["register_step_pre_hook is not implemented (NotImplementedError)"]
    )
    report.update(
        excluded=["sparse"],
        strict=False,
        divergences=[
            {
                "id": "D5",
                "reason": "torch's fused CPU kernel ignores strides",
                "tests": [fused[3]["id"]],
                "used_by": [fused[3]["id"]],
                "xpassed_by": [],
            },
            {
                "id": "D1",
                "reason": "torch ignores a group's own initial_accumulator_value",
                "tests": ["test_groups.py::test_0"],
                "used_by": [],
                "xpassed_by": ["test_groups.py::test_0"],
            },
        ],
        stale_divergences=["D7"],
        diagnosis={
            "summary": "eps is added inside the square root: every case with eps >= 1e-4 fails from step 1 "
            "by a relative error of about eps/(2 sqrt(sum)); cases with eps = 0 pass."
        },
    )
    for r in results:
        if r["feature"] == "sparse":
            r.update(outcome="excluded")
    report["verdict"] = verdict(report)[0]
    return report
