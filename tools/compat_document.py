"""The compatibility document: each library's column of the feature tables, its section (the
measured failures, the diagnosis and what confirmed it), and the torch-version section kept as
found (``tools/matrix.py`` writes it)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from compat_libraries import LIBRARIES, Library

from adagrad.conformance.adapters.base import CLAIMABLE
from adagrad.conformance.features import FEATURES
from adagrad.conformance.reporting.facts import (
    diagnosis_summary,
    failure_text,
    feature_rows,
    smallest_failure,
    unsupported_reasons,
)
from adagrad.conformance.reporting.model import Report, Result
from adagrad.conformance.reporting.summary import verdict, verdict_line

__all__ = ["MATRIX_BEGIN", "MATRIX_END", "Checked", "explained_cell", "kept_section", "measured", "render"]

#: The torch-version section (tools/matrix.py) lies between these lines: kept as found.
MATRIX_BEGIN = "<!-- torch-matrix:"
MATRIX_END = "<!-- torch-matrix: end -->"


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
