"""``make compat``: run the check on every library adapter and write ``docs/compatibility.md``.

Each library runs in its own ``adagrad-conformance check`` process (quick profile, no shrinking:
a library that differs fails dozens of tests, and the matrix needs the verdicts and the measured
sizes, not minimal examples). A library that is not installed gets a row saying so. Nothing in
the document is written by hand: rerun this to refresh it.

    python -m adagrad.conformance.compat [--out docs/compatibility.md] [--only NAME ...] [--json-dir DIR [--reuse]]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .adapters.base import CLAIMABLE
from .features import FEATURES
from .report import feature_status, feature_table, failure_excerpt, unsupported_reasons

__all__ = ["LIBRARIES", "Library", "main", "render"]


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
    Library("torch", "torch.optim.Adagrad 2.13 (the baseline; its known divergences D1, D3, D5 accepted)",
            ("torch.optim:Adagrad",), ("torch",), ""),
    Library("optax", "optax.adagrad (JAX, x64 on)", ("--adapter", "functional", f"{_A}.optax_adagrad:OptaxAdagrad"), ("optax", "jax"), "optax"),
    Library("keras", "keras.optimizers.Adagrad, Keras 3, torch backend", ("--adapter", "functional", f"{_A}.keras_adagrad:KerasAdagrad"), ("keras",), "keras"),
    Library("tf-keras", "keras.optimizers.Adagrad on TensorFlow (tf.keras)", ("--adapter", "functional", f"{_A}.tensorflow_adagrad:TfKerasAdagrad"), ("tensorflow", "keras"), "tensorflow"),
    Library("tf-raw-op", "tf.raw_ops.ResourceApplyAdagradV2 (the ApplyAdagradV2 kernel)", ("--adapter", "functional", f"{_A}.tensorflow_adagrad:ApplyAdagradV2"), ("tensorflow",), "tensorflow"),
    Library("mlx", "mlx.optimizers.Adagrad (CPU)", ("--adapter", "functional", f"{_A}.mlx_adagrad:MlxAdagrad"), ("mlx",), "mlx"),
    Library("paddle", "paddle.optimizer.Adagrad (dynamic graph, CPU)", ("--adapter", "functional", f"{_A}.paddle_adagrad:PaddleAdagrad"), ("paddle",), "paddle"),
    Library("onnx", "ONNX ai.onnx.preview.training Adagrad, onnx.reference evaluator", ("--adapter", "functional", f"{_A}.onnx_adagrad:OnnxAdagrad"), ("onnx",), "onnx"),
    Library("node-example", "examples/exec/adagrad.mjs over the subprocess protocol (Node.js)", ("--exec", "node examples/exec/adagrad.mjs"), (), ""),
)

_DIFF = re.compile(r"(?P<what>[^\n]*?): (?P<where>(?:param|sum) \d+ after step \d+): (?:(?:param|sum): )?(?P<count>\d+ of \d+) element\(s\) outside the error model; "
                   r"worst at [^:]*: target (?:np\.float64\()?(?P<target>[^,)]+)\)?, oracle (?:np\.float64\()?(?P<oracle>[^,)]+)\)?, "
                   r"\|diff\| (?P<diff>\S+) = (?P<ulps>\S+) ulps, tolerance (?P<tol>\S+) ulps")


def _installed(lib: Library) -> str | None:
    """None if the library imports, else why not."""
    missing = [m for m in lib.modules if importlib.util.find_spec(m) is None]
    if missing:
        return f"not installed here ({', '.join(missing)}): `pip install -c constraints.txt -e '.[{lib.extra}]'`"
    return None


def run_library(lib: Library, workdir: Path, timeout: float = 900) -> dict[str, Any]:
    """Check one library; the JSON report, or a stub saying why there is none."""
    problem = _installed(lib)
    if problem:
        return {"library": lib.name, "skipped": problem}
    out = workdir / f"{lib.name}.json"
    cmd = [sys.executable, "-m", "adagrad.conformance.cli", "check", *lib.args, "--no-shrink", "--report", str(out)]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=Path(__file__).resolve().parents[1])
    except subprocess.TimeoutExpired:
        return {"library": lib.name, "skipped": f"the check did not finish in {timeout:.0f} s"}
    if not out.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"library": lib.name, "skipped": f"the check did not run (exit {proc.returncode}): {' '.join(tail)}"}
    report = json.loads(out.read_text())
    report.update(library=lib.name, seconds=round(time.monotonic() - start), exit_status=proc.returncode)
    out.write_text(json.dumps(report, indent=1, sort_keys=True))  # with its timing, for --reuse
    return report


def _measured(message: str) -> str:
    """The measured size of a failure: relative error and ulps, and where."""
    text = failure_excerpt(message, max_lines=4).replace("adagrad.conformance.harness.ConformanceFailure: ", "")
    m = _DIFF.search(text)
    if not m:
        first = text.splitlines()
        return (first[0] if first else "failed")[:400]
    try:
        rel = float(m["diff"]) / abs(float(m["oracle"])) if float(m["oracle"]) else float("inf")
        rel_text = f"{rel:.2g} relative error"
    except ValueError:  # nan / inf values
        rel_text = "non-finite mismatch"
    return (f"{m['what'].strip()}: {m['where']}: target {m['target']} vs {m['oracle']} ({rel_text}, "
            f"{float(m['ulps']):.3g} ulps against a tolerance of {m['tol']} ulps; {m['count']} elements off)")


def _cell(report: dict[str, Any], feature: str) -> str:
    if "skipped" in report:
        return "n/a"
    if feature in report.get("unsupported", []):
        return "unsupported"
    row = feature_table(report).get(feature)
    status = feature_status(row, feature in report.get("excluded", [])) if row else "not run"
    return {"ok": "conformant", "FAIL": "**differs**", "partial": "conformant (part unsupported)"}.get(status, status)


def render(reports: list[dict[str, Any]]) -> str:
    """The Markdown document from the libraries' reports."""
    names = [r["library"] for r in reports]
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
    for feature in [f for f in FEATURES if f in CLAIMABLE]:
        out.append(f"| {feature} | " + " | ".join(_cell(r, feature) for r in reports) + " |")
    verdicts = []
    for r in reports:
        verdicts.append("n/a" if "skipped" in r else ("conformant" if r.get("verdict") == "conformant" else "**differs**"))
    out.append("| **verdict** | " + " | ".join(verdicts) + " |")
    out += ["", "## Per library", ""]
    lib_by_name = {lib.name: lib for lib in LIBRARIES}
    for r in reports:
        lib = lib_by_name[r["library"]]
        out += [f"### {lib.name}: {lib.what}", ""]
        if "skipped" in r:
            out += [f"Not checked: {r['skipped']}.", ""]
            continue
        out.append(f"`adagrad-conformance check {' '.join(lib.args)}`: {r.get('verdict', '?')}, "
                   f"{len(r['results'])} tests in {r.get('seconds', '?')} s.")
        if r.get("smoke"):
            out.append(f"Smoke probe: {r['smoke']}.")
        out.append("")
        failed: dict[str, list[dict[str, Any]]] = {}
        for res in r["results"]:
            if res["outcome"] == "failed":
                failed.setdefault(res["feature"], []).append(res)
        if failed:
            out.append("Differs (first failing test per feature, as measured):")
            out.append("")
            for feature, results in failed.items():
                out.append(f"- **{feature}** ({len(results)} tests failed): {_measured(results[0]['message'])}")
            out.append("")
        # one line per kind: "lr_decay=0.5: ..." and "lr_decay=0.1: ..." say the same thing
        reasons = list(dict.fromkeys(re.sub(r"^(\w+)=[^:]+:", r"\1 != default:", x)
                                     for x in unsupported_reasons(r) if not x.startswith("feature ")))
        if reasons:
            out.append("Unsupported (not failures):")
            out.append("")
            out += [f"- {x}" for x in reasons[:12]]
            out.append("")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run every library (or ``--only`` some) and write the document; 0 unless nothing ran."""
    parser = argparse.ArgumentParser(prog="python -m adagrad.conformance.compat", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "docs" / "compatibility.md"))
    parser.add_argument("--only", nargs="*", choices=[lib.name for lib in LIBRARIES], help="libraries to run (default: all)")
    parser.add_argument("--json-dir", help="keep each library's JSON report here")
    parser.add_argument("--reuse", action="store_true",
                        help="with --json-dir: take a library's report from an earlier run there instead of running it again")
    args = parser.parse_args(argv)
    reports = []
    with tempfile.TemporaryDirectory(prefix="adagrad-compat-") as tmp:
        workdir = Path(args.json_dir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for lib in LIBRARIES:
            if args.only and lib.name not in args.only:
                continue
            saved = workdir / f"{lib.name}.json"
            if args.reuse and saved.exists() and "library" in (report := json.loads(saved.read_text())):
                print(f"compat: {lib.name}: reusing {saved}", flush=True)
                reports.append(report)
                continue
            print(f"compat: {lib.name} ...", flush=True)
            report = run_library(lib, workdir)
            print(f"compat: {lib.name}: {report.get('verdict') or report.get('skipped')}", flush=True)
            reports.append(report)
    Path(args.out).write_text(render(reports))
    print(f"compat: wrote {args.out}")
    return 0 if any("skipped" not in r for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
