"""The wheel ships every file the docs reference (issue 15): built from a copy of the tree."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Where each source folder lands in the wheel (pyproject's package-dir).
INSTALLED = {"examples/": "adagrad/examples/", "fixtures/": "adagrad/fixtures/"}
SKIP = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".tox",
    ".wheels",
    "reports",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".hypothesis",
    ".pytest_cache",
    "node_modules",
)


def _referenced() -> set[str]:
    """Paths under examples/ or fixtures/readers/ named in the README or docs/."""
    text = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    return set(re.findall(r"\b((?:examples|fixtures/readers)/[\w./-]*\w/?)", text))


def test_wheel_ships_every_referenced_example(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=SKIP)
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("adagrad_conformance-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    referenced = _referenced()
    assert any(r.startswith("examples/exec/") for r in referenced)  # the docs do point at examples
    missing = []
    for ref in sorted(referenced):
        prefix = next(v for k, v in INSTALLED.items() if ref.startswith(k))
        installed = prefix + ref.split("/", 1)[1]
        if ref.endswith("/"):
            if not any(n.startswith(installed) for n in names):
                missing.append(ref)
        elif installed not in names:
            missing.append(ref)
    assert not missing, f"referenced in the docs but not in the wheel: {missing}"
