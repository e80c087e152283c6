"""``make wheel-check``: install the built wheel in a fresh virtual environment and use it as a
user would (issue 15), away from the source tree.

1. Build the wheel (``pip wheel --no-deps``) and install it with its ``suite`` extra into a new
   venv (torch pinned by constraints.txt).
2. A plain project with an unrelated ``@given`` test: hypothesis runs its default 100 examples,
   no suite fixture exists (the plugin is inert).
3. ``pytest --pyargs adagrad.conformance --adagrad-target torch.optim:Adagrad`` from an empty
   directory passes.
4. Every example the docs reference is in the installed package (``adagrad/examples``).

    python tools/wheel_check.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from test_packaging import _referenced  # noqa: E402 - the same list the CI test checks in the wheel
from test_plugin_inert import PLAIN  # noqa: E402 - the same plain project as the in-tree test


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 1800) -> str:
    print("+", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it (default: a temporary folder)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="wheel-check-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CI", "PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("PYTEST_")
    }
    dist = work / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)], work, env)
    (wheel,) = dist.glob("adagrad_conformance-*.whl")
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], work, env)
    py = str(venv / "bin" / "python")
    _run([py, "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"), f"{wheel}[suite]"], work, env)

    plain = work / "plain"
    plain.mkdir(exist_ok=True)
    (plain / "test_plain.py").write_text(PLAIN)
    out = _run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_plain.py"], plain, env)
    assert "3 passed" in out, out
    print("plain project: hypothesis defaults (100 examples), no suite fixtures")

    empty = work / "empty"
    empty.mkdir(exist_ok=True)
    out = _run(
        [
            py,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-n",
            "2",
            "--pyargs",
            "adagrad.conformance",
            "--adagrad-target",
            "torch.optim:Adagrad",
        ],
        empty,
        env,
    )
    print("pytest --pyargs adagrad.conformance:", out.strip().splitlines()[-1])

    where = _run([py, "-c", "import adagrad.examples as e; print(e.DIR.parent)"], empty, env).strip()
    missing = [r for r in sorted(_referenced()) if not (Path(where) / r).exists()]
    assert not missing, f"referenced in the docs, missing from the installed package: {missing}"
    print(f"every referenced example installed under {where}")
    print(f"wheel check passed ({wheel.name})")


if __name__ == "__main__":
    main()
