"""``make compat``: check every library's Adagrad and write the compatibility document.

Each library runs in its own ``adagrad-conformance check`` process (quick profile, no shrinking:
a library that differs fails dozens of tests, and the matrix needs the verdicts, the measured
sizes and the diagnosis, not minimal examples). A library that is not installed gets a row saying
so. Each library's diagnosis (docs/diagnosis.md) is then confirmed outside the suite: the
scripts of ``tools/confirm/`` drive the library directly and compare it with hand-written
formulas; their output is quoted under the library. Nothing in the document is written by hand,
except the torch-version section between the ``<!-- torch-matrix`` markers, which
``tools/matrix.py`` writes and this tool keeps as it finds it in OUT.

    python tools/compat.py --out docs/compatibility.md [--only NAME ...] [--json-dir DIR [--reuse]] [--no-confirm]
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
from adagrad.conformance.reporting.facts import (
    diagnosis_summary,
    failure_text,
    feature_rows,
    smallest_failure,
    unsupported_reasons,
)
from adagrad.conformance.reporting.model import Report, Result, as_report
from adagrad.conformance.reporting.summary import verdict, verdict_line

__all__ = [
    "LIBRARIES",
    "Checked",
    "Library",
    "explained_cell",
    "kept_section",
    "load_saved",
    "main",
    "measured",
    "render",
    "run_library",
]

ROOT = Path(__file__).resolve().parents[1]
#: The torch-version section (tools/matrix.py) lies between these lines: kept as found.
MATRIX_BEGIN = "<!-- torch-matrix:"
MATRIX_END = "<!-- torch-matrix: end -->"


@dataclass(frozen=True)
class Library:
    """One column of a matrix: how to check it, what it needs installed, what confirms its diagnosis.

    ``confirm``: commands (script and arguments, relative to the repository) whose output is
    quoted under the library; a script that does not exist is left out. ``torch_api``: a
    torch-API optimizer checked directly with its shipped target spec (second matrix, every
    feature), not through an adapter.
    """

    name: str
    what: str
    args: tuple[str, ...]
    modules: tuple[str, ...]
    extra: str
    confirm: tuple[tuple[str, ...], ...] = ()
    torch_api: bool = False


_A = "adagrad.conformance.adapters"
_C = "tools/confirm"
_T = "tools/confirm_third_party"
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
        ((f"{_C}/optax_update.py",),),
    ),
    Library(
        "keras",
        "keras.optimizers.Adagrad, Keras 3, torch backend",
        ("--adapter", "functional", f"{_A}.keras_adagrad:KerasAdagrad"),
        ("keras",),
        "keras",
        ((f"{_C}/keras_update.py",),),
    ),
    Library(
        "tf-keras",
        "keras.optimizers.Adagrad on TensorFlow (tf.keras)",
        ("--adapter", "functional", f"{_A}.tensorflow_adagrad:TfKerasAdagrad"),
        ("tensorflow", "keras"),
        "tensorflow",
        ((f"{_C}/tf_keras_update.py",),),
    ),
    Library(
        "tf-raw-op",
        "tf.raw_ops.ResourceApplyAdagradV2 (the ApplyAdagradV2 kernel)",
        ("--adapter", "functional", f"{_A}.tensorflow_adagrad:ApplyAdagradV2"),
        ("tensorflow",),
        "tensorflow",
        ((f"{_C}/tf_raw_op_update.py",),),
    ),
    Library(
        "mlx",
        "mlx.optimizers.Adagrad (CPU)",
        ("--adapter", "functional", f"{_A}.mlx_adagrad:MlxAdagrad"),
        ("mlx",),
        "mlx",
        ((f"{_C}/mlx_update.py",),),
    ),
    Library(
        "paddle",
        "paddle.optimizer.Adagrad (dynamic graph, CPU)",
        ("--adapter", "functional", f"{_A}.paddle_adagrad:PaddleAdagrad"),
        ("paddle",),
        "paddle",
        ((f"{_C}/paddle_update.py",),),
    ),
    Library(
        "onnx",
        "ONNX ai.onnx.preview.training Adagrad, onnx.reference evaluator",
        ("--adapter", "functional", f"{_A}.onnx_adagrad:OnnxAdagrad"),
        ("onnx",),
        "onnx",
        ((f"{_C}/onnx_update.py",),),
    ),
    Library(
        "node-example",
        "examples/exec/adagrad.mjs over the subprocess protocol (Node.js)",
        ("--exec", "node examples/exec/adagrad.mjs"),
        (),
        "",
    ),
    Library(
        "torchopt",
        "torchopt.Adagrad (0.7), shipped target spec `torchopt_adagrad`",
        ("torchopt:Adagrad",),
        ("torchopt",),
        "torchopt",
        ((f"{_C}/torch_api_update.py", "torchopt"), (f"{_T}/torchopt.py",)),
        torch_api=True,
    ),
    Library(
        "bnb-Adagrad",
        "bitsandbytes.optim.Adagrad (32-bit state), shipped target spec `bitsandbytes_adagrad`",
        ("bitsandbytes.optim:Adagrad",),
        ("bitsandbytes",),
        "bitsandbytes",
        ((f"{_C}/torch_api_update.py", "bitsandbytes"), (f"{_T}/bitsandbytes.py",)),
        torch_api=True,
    ),
    Library(
        "bnb-Adagrad32bit",
        "bitsandbytes.optim.Adagrad32bit, shipped target spec `bitsandbytes_adagrad`",
        ("bitsandbytes.optim:Adagrad32bit",),
        ("bitsandbytes",),
        "bitsandbytes",
        ((f"{_C}/torch_api_update.py", "bitsandbytes"), (f"{_T}/bitsandbytes.py",)),
        torch_api=True,
    ),
    Library(
        "bnb-Adagrad8bit",
        "bitsandbytes.optim.Adagrad8bit (8-bit blockwise state from 4,096 elements), shipped target spec "
        "`bitsandbytes_adagrad`",
        ("bitsandbytes.optim:Adagrad8bit",),
        ("bitsandbytes",),
        "bitsandbytes",
        ((f"{_C}/torch_api_update.py", "bitsandbytes"), (f"{_T}/bitsandbytes.py",)),
        torch_api=True,
    ),
    Library(
        "deepspeed",
        "deepspeed.ops.adagrad.DeepSpeedCPUAdagrad (CPU op, built with g++ on first use), shipped target spec "
        "`deepspeed_adagrad`",
        ("deepspeed.ops.adagrad:DeepSpeedCPUAdagrad",),
        ("deepspeed",),
        "deepspeed",
        ((f"{_C}/torch_api_update.py", "deepspeed"), (f"{_T}/deepspeed.py",)),
        torch_api=True,
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
    """One library's column: its check report (schema_version 2), or why there is none, and what
    the confirmation scripts printed (command line -> output)."""

    library: str
    report: Report | None = None
    skipped: str | None = None
    seconds: float | None = None
    exit_status: int | None = None
    confirmed: dict[str, str] | None = None
    notes: tuple[str, ...] = ()


def _save(checked: Checked, workdir: Path) -> None:
    meta = {
        "library": checked.library,
        "seconds": checked.seconds,
        "exit_status": checked.exit_status,
        "notes": list(checked.notes),
    }
    (workdir / f"{checked.library}.meta.json").write_text(json.dumps(meta, indent=1) + "\n")


def load_saved(lib: Library, workdir: Path) -> Checked | None:
    """A library's report from an earlier run in ``workdir`` (``--reuse``), or None if there is none."""
    report, meta = workdir / f"{lib.name}.json", workdir / f"{lib.name}.meta.json"
    if not (report.exists() and meta.exists()):
        return None
    info = json.loads(meta.read_text())
    return Checked(
        lib.name,
        as_report(json.loads(report.read_text())),
        seconds=info["seconds"],
        exit_status=info["exit_status"],
        notes=tuple(info.get("notes", ())),
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
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
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
        # what check printed beside the report, e.g. "note: diagnosis failed: ..."
        notes=tuple(line[len("note: ") :] for line in proc.stdout.splitlines() if line.startswith("note: ")),
    )
    _save(checked, workdir)
    return checked


def run_confirm(lib: Library, cache: dict[str, str], timeout: float = 600) -> dict[str, str]:
    """What each of the library's confirmation scripts printed (stdout), by command line; a script
    that does not exist is left out, one that fails says so. Each command runs once (``cache``)."""
    out = {}
    for command in lib.confirm:
        if not (ROOT / command[0]).exists():
            continue
        line = "python " + " ".join(command)
        if line not in cache:
            try:
                proc = subprocess.run(
                    [sys.executable, *command], capture_output=True, text=True, timeout=timeout, cwd=ROOT
                )
                text = proc.stdout.rstrip()
                if proc.returncode != 0:
                    tail = " ".join(proc.stderr.strip().splitlines()[-2:])
                    text += f"\n(the script failed, exit {proc.returncode}: {tail})"
            except subprocess.TimeoutExpired:
                text = f"(the script did not finish in {timeout:.0f} s)"
            cache[line] = text
        out[line] = cache[line]
    return out


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


#: How a feature's status reads in the matrix of adapted libraries (an adapter that cannot express
#: a feature does not claim it: for the reader, the library does not support it).
_CELL = {
    "ok": "conformant",
    "FAIL": "**differs**",
    "partial": "conformant (part unsupported)",
    "not claimed": "unsupported",
}
#: ... and in the matrix of torch-API optimizers (whose target specs claim what they cover).
_CELL_TORCH_API = {**_CELL, "not claimed": "not claimed", "unsupported": "unsupported"}
_VERDICT = {
    "conformant": "conformant",
    "non-conformant": "**differs**",
    "not-verified": "not verified",
    "interrupted": "interrupted",
}


def _cells(checked: Checked, features: list[str], names: dict[str, str]) -> list[str]:
    if checked.report is None:
        return ["n/a"] * len(features)
    status = {row.feature: row.status for row in feature_rows(checked.report)}
    return [names.get(status.get(f, "not run"), status.get(f, "not run")) for f in features]


def explained_cell(report: Report | None, notes: tuple[str, ...] = ()) -> str:
    """The diagnosis in a table cell: the variants that explain every numerical failure, or the
    partial explanation that goes furthest; ``-`` without a diagnosis (nothing numerical failed),
    ``diagnosis failed`` when check said so."""
    diagnosis = report.diagnosis if report is not None else None
    if not isinstance(diagnosis, dict):
        return "diagnosis failed (below)" if any(n.startswith("diagnosis failed") for n in notes) else "-"
    if diagnosis.get("explained_by"):
        return " + ".join(diagnosis["explained_by"][0]["labels"])
    if not diagnosis.get("failures"):
        return "nothing numerical"
    partial = diagnosis.get("partial") or []
    if not partial:
        return "no known variant"
    best = partial[0]
    return f"no known variant (partly: {' + '.join(best['labels'])}, {best['explained']} of {best['failures']})"


def _table(checked: list[Checked], features: list[str], names: dict[str, str]) -> list[str]:
    out = [
        "| feature | " + " | ".join(c.library for c in checked) + " |",
        "| --- | " + " | ".join("---" for _ in checked) + " |",
    ]
    columns = [_cells(c, features, names) for c in checked]
    for i, feature in enumerate(features):
        out.append(f"| {feature} | " + " | ".join(col[i] for col in columns) + " |")
    out.append(
        "| **verdict** | "
        + " | ".join("n/a" if c.report is None else _VERDICT[verdict(c.report)[0]] for c in checked)
        + " |"
    )
    out.append(
        "| **explained by** | "
        + " | ".join(
            "n/a" if c.report is None else explained_cell(c.report, c.notes).replace("|", "\\|") for c in checked
        )
        + " |"
    )
    return out


def _indented(text: str) -> list[str]:
    return ["    " + line if line.strip() else "" for line in text.splitlines()]


def _section(c: Checked, lib: Library) -> list[str]:
    out = [f"### {lib.name}: {lib.what}", ""]
    if c.report is None:
        return out + [f"Not checked: {c.skipped}.", ""]
    rep = c.report
    out += [
        f"`adagrad-conformance check {' '.join(lib.args)}`: {verdict(rep)[0]}, "
        f"{len(rep.results)} tests in {c.seconds if c.seconds is not None else '?'} s.",
        "",
    ]
    if verdict(rep)[0] == "not-verified":
        out += [verdict_line(rep), ""]
    out += [f"check noted: {n}" for n in c.notes] + ([""] if c.notes else [])
    summary = diagnosis_summary(rep)
    if summary:
        out += ["Diagnosis (what the failures are; [`diagnosis.md`](diagnosis.md) says how to read it):", ""]
        out += _indented(summary) + [""]
    for command, text in (c.confirmed or {}).items():
        out += [f"Confirmed outside the suite by `{command}`, which printed:", ""]
        out += _indented(text or "(nothing)") + [""]
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
    return out


def render(checked: list[Checked]) -> str:
    """The Markdown document from the libraries' reports (without the torch-version section)."""
    lib_by_name = {lib.name: lib for lib in LIBRARIES}
    adapted = [c for c in checked if not lib_by_name[c.library].torch_api]
    torch_api = [c for c in checked if lib_by_name[c.library].torch_api]
    out = [
        "# Compatibility matrix: other Adagrads against torch.optim.Adagrad",
        "",
        "Generated by `make compat` (`python tools/compat.py --out docs/compatibility.md`) from real runs",
        "of `adagrad-conformance check` (quick profile, no shrinking). Do not edit by hand. Per feature:",
        "**conformant** (within the error model of `docs/error-model.md`), **differs** (how, with the",
        "measured size, below), or **unsupported** (the library cannot express it: a hyperparameter, a",
        "dtype, torch's own API). A library that differs in one hyperparameter fails every feature whose",
        "cases draw it. **explained by** is the diagnosis ([`diagnosis.md`](diagnosis.md)): the known",
        "variants of Adagrad that put every numerical failure within the error model (`-`: no numerical",
        "failure to replay: a conformant run, or failures of other kinds). Each library's",
        "diagnosis is confirmed outside the suite by a script of `tools/confirm/` that drives the",
        "library directly and compares it with hand-written formulas; what it printed is quoted under",
        "the library.",
    ]
    if adapted:
        features = [f for f in FEATURES if f in CLAIMABLE]
        out += [
            "",
            "Adapted libraries (through their adapter in `conformance/adapters/`): features that test",
            "torch's Optimizer API itself (state_dict, hooks, foreach, fused, sparse, ...) are unsupported",
            "through every adapter and are left out of this table.",
            "",
            *_table(adapted, features, _CELL),
        ]
    if torch_api:
        out += [
            "",
            "Torch-API optimizers of other libraries, checked as they are (`check module:Class`), each with",
            "its shipped target spec (`conformance/adapters/*_adagrad.py`, picked automatically): every",
            "feature. *unsupported*: refused with the library's own exception (listed under the library);",
            "*not claimed*: outside the spec's claims.",
            "",
            *_table(torch_api, list(FEATURES), _CELL_TORCH_API),
        ]
    out += ["", "## Per library", ""]
    for c in checked:
        out += _section(c, lib_by_name[c.library])
    return "\n".join(out).rstrip("\n") + "\n"


def kept_section(path: Path) -> str | None:
    """The torch-version section of the document at ``path`` (markers included), if it has one."""
    if not path.exists():
        return None
    text = path.read_text()
    begin = next((m.start() for m in re.finditer(re.escape(MATRIX_BEGIN), text)), None)
    end = text.find(MATRIX_END)
    if begin is None or end < begin:
        return None
    return text[begin : end + len(MATRIX_END)] + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run every library (or ``--only`` some) and write the document; 0 unless nothing ran."""
    parser = argparse.ArgumentParser(prog="python tools/compat.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", required=True, help="the document to write (its torch-version section, if any, is kept)"
    )
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
    parser.add_argument("--no-confirm", action="store_true", help="do not run the confirmation scripts")
    args = parser.parse_args(argv)
    out_path = Path(args.out)
    checked: list[Checked] = []
    cache: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="adagrad-compat-") as tmp:
        workdir = Path(args.json_dir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for lib in LIBRARIES:
            if args.only and lib.name not in args.only:
                continue
            saved = load_saved(lib, workdir) if args.reuse else None
            if saved is not None:
                print(f"compat: {lib.name}: reusing {workdir / (lib.name + '.json')}", flush=True)
                one = saved
            else:
                print(f"compat: {lib.name} ...", flush=True)
                one = run_library(lib, workdir)
                print(f"compat: {lib.name}: {verdict(one.report)[0] if one.report else one.skipped}", flush=True)
            if one.report is not None and not args.no_confirm:
                one.confirmed = run_confirm(lib, cache)
            checked.append(one)
    section = kept_section(out_path)
    text = render(checked) + ("\n" + section if section else "")
    out_path.write_text(text)
    print(f"compat: wrote {out_path}")
    return 0 if any(c.report is not None for c in checked) else 1


if __name__ == "__main__":
    sys.exit(main())
