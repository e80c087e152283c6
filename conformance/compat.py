"""``make compat``: run the check on every library adapter and write ``docs/compatibility.md``.

Each library runs in its own ``adagrad-conformance check`` process (quick profile, no shrinking:
a library that differs fails dozens of tests, and the matrix needs the verdicts and the measured
sizes, not minimal examples). A library that is not installed gets a row saying so. Nothing in
the document is written by hand: rerun this to refresh it. The matrix renders only what
:mod:`.report` derives from each check's report (feature status, verdict, smallest failure).

    python -m adagrad.conformance.compat [--out docs/compatibility.md] [--only NAME ...] [--json-dir DIR [--reuse]]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from adagrad.conformance.adapters.base import CLAIMABLE
from adagrad.conformance.features import FEATURES
from adagrad.conformance.reporting.model import Report, Result, as_report
from adagrad.conformance.reporting.summary import (
    failure_text,
    feature_rows,
    smallest_failure,
    unsupported_reasons,
    verdict,
    verdict_line,
)

__all__ = ["LIBRARIES", "Checked", "Library", "load_saved", "main", "measured", "render", "run_library"]


@dataclass(frozen=True)
class Library:
    """One row of the matrix: how to check it and what it needs installed."""

    name: str
    what: str
    args: tuple[str, ...]
    modules: tuple[str, ...]
    extra: str


_A = "adagrad.conformance.adapters"
LIBRARIES = (
    Library(
        "torch",
        "torch.optim.Adagrad 2.13 (the baseline; its known divergences D1, D3, D5 accepted)",
        ("torch.optim:Adagrad",),
        ("torch",),
        "",
    ),
    Library(
        "optax",
        "optax.adagrad (JAX, x64 on)",
        ("--adapter", "functional", f"{_A}.optax_adagrad:OptaxAdagrad"),
        ("optax", "jax"),
        "optax",
    ),
    Library(
        "keras",
        "keras.optimizers.Adagrad, Keras 3, torch backend",
        ("--adapter", "functional", f"{_A}.keras_adagrad:KerasAdagrad"),
        ("keras",),
        "keras",
    ),
    Library(
        "tf-keras",
        "keras.optimizers.Adagrad on TensorFlow (tf.keras)",
        ("--adapter", "functional", f"{_A}.tensorflow_adagrad:TfKerasAdagrad"),
        ("tensorflow", "keras"),
        "tensorflow",
    ),
    Library(
        "tf-raw-op",
        "tf.raw_ops.ResourceApplyAdagradV2 (the ApplyAdagradV2 kernel)",
        ("--adapter", "functional", f"{_A}.tensorflow_adagrad:ApplyAdagradV2"),
        ("tensorflow",),
        "tensorflow",
    ),
    Library(
        "mlx",
        "mlx.optimizers.Adagrad (CPU)",
        ("--adapter", "functional", f"{_A}.mlx_adagrad:MlxAdagrad"),
        ("mlx",),
        "mlx",
    ),
    Library(
        "paddle",
        "paddle.optimizer.Adagrad (dynamic graph, CPU)",
        ("--adapter", "functional", f"{_A}.paddle_adagrad:PaddleAdagrad"),
        ("paddle",),
        "paddle",
    ),
    Library(
        "onnx",
        "ONNX ai.onnx.preview.training Adagrad, onnx.reference evaluator",
        ("--adapter", "functional", f"{_A}.onnx_adagrad:OnnxAdagrad"),
        ("onnx",),
        "onnx",
    ),
    Library(
        "node-example",
        "examples/exec/adagrad.mjs over the subprocess protocol (Node.js)",
        ("--exec", "node examples/exec/adagrad.mjs"),
        (),
        "",
    ),
)


def _installed(lib: Library) -> str | None:
    """None if the library imports, else why not."""
    missing = [m for m in lib.modules if importlib.util.find_spec(m) is None]
    if missing:
        return f"not installed here ({', '.join(missing)}): `pip install -c constraints.txt -e '.[{lib.extra}]'`"
    return None


@dataclass
class Checked:
    """One library's row: its check report (schema_version 2), or why there is none."""

    library: str
    report: Report | None = None
    skipped: str | None = None
    seconds: float | None = None
    exit_status: int | None = None


def _save(checked: Checked, workdir: Path) -> None:
    meta = {"library": checked.library, "seconds": checked.seconds, "exit_status": checked.exit_status}
    (workdir / f"{checked.library}.meta.json").write_text(json.dumps(meta, indent=1) + "\n")


def load_saved(lib: Library, workdir: Path) -> Checked | None:
    """A library's report from an earlier run in ``workdir`` (``--reuse``), or None if there is none."""
    report, meta = workdir / f"{lib.name}.json", workdir / f"{lib.name}.meta.json"
    if not (report.exists() and meta.exists()):
        return None
    info = json.loads(meta.read_text())
    return Checked(
        lib.name, as_report(json.loads(report.read_text())), seconds=info["seconds"], exit_status=info["exit_status"]
    )


def run_library(lib: Library, workdir: Path, timeout: float = 900) -> Checked:
    """Check one library; its report, or why there is none."""
    problem = _installed(lib)
    if problem:
        return Checked(lib.name, skipped=problem)
    out = workdir / f"{lib.name}.json"
    cmd = [sys.executable, "-m", "adagrad.conformance.cli", "check", *lib.args, "--no-shrink", "--report", str(out)]
    start = time.monotonic()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, cwd=Path(__file__).resolve().parents[1]
        )
    except subprocess.TimeoutExpired:
        return Checked(lib.name, skipped=f"the check did not finish in {timeout:.0f} s")
    if not out.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return Checked(lib.name, skipped=f"the check did not run (exit {proc.returncode}): {' '.join(tail)}")
    checked = Checked(
        lib.name,
        as_report(json.loads(out.read_text())),
        seconds=round(time.monotonic() - start),
        exit_status=proc.returncode,
    )
    _save(checked, workdir)
    return checked


def measured(result: Result) -> str:
    """A failure as measured: its statement (whole), and the relative error where both values are known."""
    failure = result.failure
    if failure is None:
        return f"{result.outcome}: {failure_text(result).splitlines()[0]}"
    text = failure.statement
    if failure.target is not None and failure.oracle is not None:
        if math.isfinite(failure.target) and math.isfinite(failure.oracle) and failure.oracle != 0:
            text += f" (relative error {abs(failure.target - failure.oracle) / abs(failure.oracle):.2g})"
        elif not (math.isfinite(failure.target) and math.isfinite(failure.oracle)):
            text += " (non-finite mismatch)"
    return text


#: How a feature's status reads in the matrix (an adapter that cannot express a feature does not claim it).
_CELL = {
    "ok": "conformant",
    "FAIL": "**differs**",
    "partial": "conformant (part unsupported)",
    "not claimed": "unsupported",
}
_VERDICT = {
    "conformant": "conformant",
    "non-conformant": "**differs**",
    "not-verified": "not verified",
    "interrupted": "interrupted",
}


def _cells(checked: Checked, features: list[str]) -> list[str]:
    if checked.report is None:
        return ["n/a"] * len(features)
    status = {row.feature: row.status for row in feature_rows(checked.report)}
    return [_CELL.get(status.get(f, "not run"), status.get(f, "not run")) for f in features]


def render(checked: list[Checked]) -> str:
    """The Markdown document from the libraries' reports."""
    names = [c.library for c in checked]
    features = [f for f in FEATURES if f in CLAIMABLE]
    out = [
        "# Compatibility matrix: other Adagrads against torch.optim.Adagrad",
        "",
        "Generated by `make compat` (`python -m adagrad.conformance.compat`) from real runs of",
        "`adagrad-conformance check` (quick profile, no shrinking) on each library's Adagrad through its",
        "adapter in `conformance/adapters/`. Do not edit by hand. Per feature: **conformant** (within the",
        "error model of `docs/error-model.md`), **differs** (how, with the measured size, below), or",
        "**unsupported** (the library cannot express it: a hyperparameter, a dtype, torch's own API). A",
        "library that differs in one hyperparameter fails every feature whose cases draw it. Features that",
        "test torch's Optimizer API itself (state_dict, hooks, foreach, fused, sparse, ...) are unsupported",
        "through every adapter and are left out of the table.",
        "",
        "| feature | " + " | ".join(names) + " |",
        "| --- | " + " | ".join("---" for _ in names) + " |",
    ]
    columns = [_cells(c, features) for c in checked]
    for i, feature in enumerate(features):
        out.append(f"| {feature} | " + " | ".join(col[i] for col in columns) + " |")
    out.append(
        "| **verdict** | "
        + " | ".join("n/a" if c.report is None else _VERDICT[verdict(c.report)[0]] for c in checked)
        + " |"
    )
    out += ["", "## Per library", ""]
    lib_by_name = {lib.name: lib for lib in LIBRARIES}
    for c in checked:
        lib = lib_by_name[c.library]
        out += [f"### {lib.name}: {lib.what}", ""]
        if c.report is None:
            out += [f"Not checked: {c.skipped}.", ""]
            continue
        rep = c.report
        out += [
            f"`adagrad-conformance check {' '.join(lib.args)}`: {verdict(rep)[0]}, "
            f"{len(rep.results)} tests in {c.seconds if c.seconds is not None else '?'} s.",
            "",
        ]
        if verdict(rep)[0] == "not-verified":
            out += [verdict_line(rep), ""]
        rows = [row for row in feature_rows(rep) if row.failures]
        if rows:
            out += ["Differs (smallest failing case per feature, as measured):", ""]
            for row in rows:
                first = smallest_failure(row.failures)
                assert first is not None
                out.append(f"- **{row.feature}** ({len(row.failures)} tests failed): {measured(first)}")
            out.append("")
        # one line per kind: "lr_decay=0.5: ..." and "lr_decay=0.1: ..." say the same thing
        reasons = list(
            dict.fromkeys(
                re.sub(r"^(\w+)=[^:]+:", r"\1 != default:", x)
                for x in unsupported_reasons(rep)
                if not x.startswith("feature ")
            )
        )
        if reasons:
            out += ["Unsupported (not failures):", "", *(f"- {x}" for x in reasons[:12]), ""]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run every library (or ``--only`` some) and write the document; 0 unless nothing ran."""
    parser = argparse.ArgumentParser(prog="python -m adagrad.conformance.compat", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "compatibility.md"))
    parser.add_argument(
        "--only", nargs="*", choices=[lib.name for lib in LIBRARIES], help="libraries to run (default: all)"
    )
    parser.add_argument(
        "--json-dir", help="keep each library's JSON report here (NAME.json, and NAME.meta.json: time, exit status)"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --json-dir: take a library's report from an earlier run there instead of running it again",
    )
    args = parser.parse_args(argv)
    checked: list[Checked] = []
    with tempfile.TemporaryDirectory(prefix="adagrad-compat-") as tmp:
        workdir = Path(args.json_dir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for lib in LIBRARIES:
            if args.only and lib.name not in args.only:
                continue
            saved = load_saved(lib, workdir) if args.reuse else None
            if saved is not None:
                print(f"compat: {lib.name}: reusing {workdir / (lib.name + '.json')}", flush=True)
                checked.append(saved)
                continue
            print(f"compat: {lib.name} ...", flush=True)
            one = run_library(lib, workdir)
            print(f"compat: {lib.name}: {verdict(one.report)[0] if one.report else one.skipped}", flush=True)
            checked.append(one)
    Path(args.out).write_text(render(checked))
    print(f"compat: wrote {args.out}")
    return 0 if any(c.report is not None for c in checked) else 1


if __name__ == "__main__":
    sys.exit(main())
