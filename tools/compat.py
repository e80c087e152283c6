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
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its modules beside it: compat_*.py

from compat_document import MATRIX_BEGIN, MATRIX_END, Checked, explained_cell, kept_section, measured, render  # noqa: E402
from compat_libraries import LIBRARIES, Library, installed  # noqa: E402

from adagrad.conformance.reporting.model import as_report  # noqa: E402
from adagrad.conformance.reporting.summary import verdict  # noqa: E402

__all__ = [
    "LIBRARIES",
    "MATRIX_BEGIN",
    "MATRIX_END",
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
    problem = installed(lib)
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
