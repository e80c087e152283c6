"""The torch version matrix (``make matrix``): fill the wheel cache, then write the table.

    python tools/matrix.py fetch [ENV ...]   # download into .wheels/ only what an environment lacks
    python tools/matrix.py table             # rewrite the torch-version section of docs/compatibility.md

The environments and their torch pins live in ``tox.ini`` (one place); the project's own
requirements come from ``pyproject.toml``. ``fetch`` first asks pip to resolve an environment from
``.wheels/`` alone (``--no-index``); only when that fails does it download, so a second run
downloads nothing. ``table`` reads the JSON reports that the tox environments write to
``reports/matrix/<env>/{torch,impl}.json`` and tox's ``--result-json`` for the times.
"""

from __future__ import annotations

import argparse
import configparser
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WHEELS = ROOT / ".wheels"
TOX_INI = ROOT / "tox.ini"
REPORTS = ROOT / "reports" / "matrix"


def tox_config() -> configparser.ConfigParser:
    """tox.ini as plain INI (no interpolation: tox's ``{...}`` substitutions stay as text)."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(TOX_INI)
    return config


def environments() -> list[str]:
    """The environments of ``[tox] env_list``, in order."""
    raw = tox_config()["tox"]["env_list"]
    return [name.strip() for name in raw.replace("\n", ",").split(",") if name.strip()]


def requirements(env: str) -> list[str]:
    """Everything the environment installs: its tox deps, the project's dependencies, its build backend."""
    config = tox_config()
    section = f"testenv:{env}"
    if section not in config:
        raise SystemExit(f"tox.ini has no [{section}] (environments: {', '.join(environments())})")
    deps = [line.strip() for line in config[section].get("deps", "").splitlines() if line.strip()]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return deps + project["project"]["dependencies"] + project["build-system"]["requires"]


def _pip_download(reqs: list[str], offline: bool) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pip", "download", "--dest", str(WHEELS), "--find-links", str(WHEELS)]
    if offline:
        cmd += ["--no-index", "--quiet"]
    return subprocess.run(cmd + reqs, capture_output=offline, text=True)


def fetch(envs: list[str]) -> int:
    """Make ``.wheels/`` hold every wheel each environment installs; download only what is missing."""
    WHEELS.mkdir(exist_ok=True)
    status = 0
    for env in envs:
        reqs = requirements(env)
        if _pip_download(reqs, offline=True).returncode == 0:
            print(f"{env}: every wheel is in {WHEELS.name}/ already")
            continue
        print(f"{env}: downloading {' '.join(reqs)}", flush=True)
        if _pip_download(reqs, offline=False).returncode != 0:
            print(f"{env}: download failed", file=sys.stderr)
            status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    """Command line: ``fetch`` or ``table``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_fetch = sub.add_parser("fetch", help="fill .wheels/ for the given environments (default: all)")
    p_fetch.add_argument("envs", nargs="*")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        return fetch(args.envs or environments())
    return 2


if __name__ == "__main__":
    sys.exit(main())
