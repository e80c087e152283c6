#!/usr/bin/env python3
"""The GPU check (issue 16): one command on a CUDA machine without network, results in a folder.

    python3 tools/gpu_check.py OUT        # or: make gpu-check OUT=dir

Needs Python with torch (CUDA), triton, numpy, pytest, pytest-xdist, pytest-timeout,
pytest-benchmark and hypothesis installed; jsonschema is not needed: it comes, with its
dependencies and setuptools (for the editable install), from ``tools/gpu_wheels`` (CPython 3.12
wheels; ``--wheels DIR`` for others). Steps, each logged to ``OUT/<step>.log``:

1. ``install``: a virtual environment in ``OUT/venv`` that sees the launching Python's packages
   (a ``.pth`` file), with the project installed editable, offline, from the carried wheels;
2. ``tests``: ``tests/impl/test_impl_cuda.py`` (JUnit XML in ``OUT/cuda_tests.xml``);
3. ``bench``: ``benchmarks/test_bench_gpu.py`` (``OUT/bench_gpu.json``; tables in the summary);
4. ``ulps``: distance of our Triton kernel from torch's fused and for-loop CUDA paths, in ulps;
5. ``checks``: ``adagrad-conformance check --device cuda`` on ``adagrad.impl:Adagrad``,
   ``torch.optim:Adagrad``, torch's with ``fused=True`` forced (:func:`torch_fused`) and our
   forced fused path, in parallel (reports in ``OUT/check_*.json`` and ``.md``).

``OUT/summary.md`` gathers the device, versions, date, each step's verdict and time, and the
tables for ``docs/performance.md``. The whole run is bounded (``--budget``, default 460 s):
steps that would overrun are stopped and say so. Exit status: 0 every step passed, 1 a step
failed or was stopped, 2 no CUDA GPU (or no torch): one line, at once.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import site
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("install", "tests", "bench", "ulps", "checks")
FUSED_EXCLUDES = ["differentiable", "sparse", "complex", "foreach"]  # what no fused path serves
# (report name, target, excluded features)
CHECKS = [
    ("impl", "adagrad.impl:Adagrad", []),
    ("torch", "torch.optim:Adagrad", []),
    ("torch_fused", "gpu_check:torch_fused", FUSED_EXCLUDES),
    ("impl_fused", "adagrad.impl.targets:fused", FUSED_EXCLUDES),
]


def torch_fused(params: Any, **hyperparameters: Any) -> Any:
    """``torch.optim.Adagrad`` with ``fused=True`` forced (a ``check`` target: ``gpu_check:torch_fused``).

    As ``adagrad.impl.targets.fused`` does for ours: ``foreach`` is turned off unless a request
    sets it to True, in which case torch's own error is the answer.
    """
    import torch

    hyper = dict(hyperparameters)
    if hyper.get("foreach") is not True:
        hyper["foreach"] = False
    hyper["fused"] = True
    return torch.optim.Adagrad(params, **hyper)


class Run:
    """Runs the steps against one deadline and records what each did."""

    def __init__(self, out: Path, budget: float) -> None:
        self.out = out
        self.deadline = time.monotonic() + budget
        self.results: list[dict[str, Any]] = []
        self.python = sys.executable  # the venv's python once installed

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def record(self, step: str, status: str, seconds: float, note: str = "") -> None:
        self.results.append({"step": step, "status": status, "seconds": round(seconds, 1), "note": note})
        print(f"gpu-check: {step}: {status} ({seconds:.0f} s){' - ' + note if note else ''}", flush=True)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}  # the compiled kernel
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "tools"), env.get("PYTHONPATH")]))
        return env

    def run(self, step: str, cmd: list[str], limit: float, log: str | None = None) -> tuple[int | None, float]:
        """Runs cmd with output to OUT/<log>.log; None as status if stopped at its time limit."""
        limit = min(limit, self.left())
        if limit < 5:
            return None, 0.0
        path = self.out / f"{log or step}.log"
        start = time.monotonic()
        with path.open("w") as fh:
            fh.write("$ " + " ".join(cmd) + "\n")
            fh.flush()
            try:
                proc = subprocess.run(cmd, cwd=ROOT, env=self.env(), stdout=fh, stderr=subprocess.STDOUT, timeout=limit)
                return proc.returncode, time.monotonic() - start
            except subprocess.TimeoutExpired:
                fh.write(f"\n[gpu-check: stopped after {limit:.0f} s]\n")
                return None, time.monotonic() - start


def _no_gpu_reason() -> str | None:
    try:
        import torch
    except ImportError as exc:
        return f"torch cannot be imported ({exc})"
    if not torch.cuda.is_available():
        return f"no CUDA GPU here (torch {torch.__version__}: torch.cuda.is_available() is False)"
    return None


def _environment() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": "none (--allow-cpu)",
    }
    if torch.cuda.is_available():
        info["device"] = torch.cuda.get_device_name()
        info["capability"] = ".".join(map(str, torch.cuda.get_device_capability()))
        info["memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = None
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    info["commit"] = (commit.stdout.strip() or "unknown") + (" (with local changes)" if dirty.stdout.strip() else "")
    return info


def step_install(run: Run, wheels: Path) -> bool:
    """An isolated venv seeing the launching Python's packages, the project installed offline."""
    start = time.monotonic()
    venv = run.out / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    python = str(venv / "bin" / "python")
    made = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], capture_output=True)
    pip = [python, "-m", "pip"]
    if made.returncode != 0:  # no ensurepip here: a venv without pip, driven by this Python's pip
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
        pip = [sys.executable, "-m", "pip", "--python", python]
    # The launching Python may itself be a venv: a .pth file makes its packages visible too.
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    parents = [p for p in [*site.getsitepackages(), site.getusersitepackages()] if Path(p).is_dir()]
    Path(purelib, "gpu_check_parent.pth").write_text("\n".join(parents) + "\n")
    code, _ = run.run("install", [*pip, "install", "--no-index", "--find-links", str(wheels), "-e", str(ROOT)], 300)
    if code != 0:
        note = f"pip could not install the project offline from {wheels}: {_last_line(run.out / 'install.log')}"
        run.record("install", _status(code), time.monotonic() - start, note)
        return False
    run.python = python
    probe = subprocess.run([python, "-c", "import adagrad.impl, adagrad.conformance.cli, jsonschema, triton"],
                           cwd=run.out, capture_output=True, text=True, env=run.env())  # fmt: skip
    if probe.returncode != 0:
        run.record("install", "FAILED", time.monotonic() - start, (probe.stderr.strip().splitlines() or ["?"])[-1])
        return False
    run.record("install", "passed", time.monotonic() - start)
    return True


def step_tests(run: Run) -> None:
    cmd = [run.python, "-m", "pytest", "tests/impl/test_impl_cuda.py", "-p", "no:xdist", "-rs", "-v",
           "--timeout", "300", "--junitxml", str(run.out / "cuda_tests.xml")]  # fmt: skip
    code, secs = run.run("tests", cmd, 240)
    tail = _last_line(run.out / "tests.log")
    run.record("tests", _status(code), secs, tail)


def step_bench(run: Run) -> None:
    cmd = [run.python, "-m", "pytest", "benchmarks/test_bench_gpu.py", "--benchmark-only", "-p", "no:xdist",
           "--benchmark-json", str(run.out / "bench_gpu.json"),
           "--benchmark-columns=min,median,max,rounds"]  # fmt: skip
    code, secs = run.run("bench", cmd, 200)
    run.record("bench", _status(code), secs, _last_line(run.out / "bench.log"))


def step_ulps(run: Run) -> None:
    cmd = [run.python, str(Path(__file__).resolve()), "--measure-ulps", str(run.out / "ulps.md")]
    code, secs = run.run("ulps", cmd, 90)
    run.record("ulps", _status(code), secs)


def step_checks(run: Run) -> None:
    """The four checks in parallel (each with a few xdist workers), all under one time limit."""
    start = time.monotonic()
    helps = subprocess.run([run.python, "-m", "adagrad.conformance.cli", "check", "--help"], cwd=run.out,
                           capture_output=True, text=True, env=run.env())  # fmt: skip
    if "--device" not in helps.stdout:
        run.record("checks", "NOT RUN", 0, "this checkout's `check` has no --device option")
        return
    limit = min(240.0, run.left())
    procs = []
    for name, target, excluded in CHECKS:
        cmd = [run.python, "-m", "adagrad.conformance.cli", "check", target, "--device", "cuda", "--profile", "quick",
               "-n", "3", "--report", str(run.out / f"check_{name}.json"),
               "--markdown", str(run.out / f"check_{name}.md")]  # fmt: skip
        cmd += [a for f in excluded for a in ("--exclude", f)]
        fh = (run.out / f"check_{name}.log").open("w")
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        # cwd OUT: whatever the suite leaves behind (hypothesis' database) stays out of the tree
        procs.append((name, subprocess.Popen(cmd, cwd=run.out, env=run.env(), stdout=fh, stderr=subprocess.STDOUT), fh))
    for name, proc, fh in procs:
        try:
            code: int | None = proc.wait(timeout=max(1.0, limit - (time.monotonic() - start)))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = None
        fh.close()
        lines = (run.out / f"check_{name}.log").read_text(errors="replace").splitlines()
        verdict = next((ln for ln in lines if ln.startswith("Verdict")), "")
        run.record(f"check {name}", _status(code), time.monotonic() - start, verdict)


def _status(code: int | None) -> str:
    return "passed" if code == 0 else ("STOPPED (time limit)" if code is None else f"FAILED (exit {code})")


def _last_line(path: Path) -> str:
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()] if path.exists() else []
    return lines[-1].strip("= ") if lines else ""


def bench_tables(path: Path) -> str:
    """Markdown tables from pytest-benchmark's JSON: per-step times, ratios, bandwidth."""
    if not path.exists():
        return "(no benchmark results)\n"
    data = json.loads(path.read_text())
    gpu: dict[tuple[str, str, str], dict[str, Any]] = {}
    host: list[tuple[str, str, str, float]] = []
    for bench in data["benchmarks"]:
        info, median = bench["extra_info"], bench["stats"]["median"]
        if info.get("suite") == "gpu":
            gpu[(info["layout"], info["dtype"], info["impl"])] = {**info, "step_s": median / info["steps_per_round"]}
        elif info.get("suite") == "host":
            host.append((info["layout"], info["device"], info["impl"], median))
    lines = ["| layout | dtype | ours Triton (ms) | torch fused (ms) | torch foreach (ms) | ours / fused | "
             "ours GB/s | fused GB/s | copy GB/s | ours / copy |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    if not gpu:
        lines = ["(no GPU benchmark results)"]
    for layout, dtype in dict.fromkeys((k[0], k[1]) for k in gpu):
        row = {impl: gpu.get((layout, dtype, impl)) for impl in ("ours_triton", "torch_fused", "torch_foreach", "copy")}

        def ms(r: dict[str, Any] | None) -> str:
            return f"{r['step_s'] * 1e3:.3f}" if r else "-"

        def gbs(r: dict[str, Any] | None) -> float | None:
            return r["bytes_per_step"] / r["step_s"] / 1e9 if r else None

        ours, fused, copy = gbs(row["ours_triton"]), gbs(row["torch_fused"]), gbs(row["copy"])
        ratio = (
            f"{row['ours_triton']['step_s'] / row['torch_fused']['step_s']:.2f}"
            if row["ours_triton"] and row["torch_fused"]
            else "-"
        )  # noqa: E501
        cells = [ms(row["ours_triton"]), ms(row["torch_fused"]), ms(row["torch_foreach"]), ratio]
        cells += [f"{x:.0f}" if x else "-" for x in (ours, fused, copy)]
        cells.append(f"{ours / copy:.0%}" if ours and copy else "-")
        lines.append(f"| {layout} | {dtype} | " + " | ".join(cells) + " |")
    if host:
        lines += ["", "Host side of the Triton path (tables, step counters; kernel launch stubbed), median per step:",
                  "", "| layout | tensors on | version | ms |", "| --- | --- | --- | ---: |"]  # fmt: skip
        lines += [
            f"| {layout} | {device} | {version} | {median * 1e3:.3f} |" for layout, device, version, median in host
        ]
    return "\n".join(lines) + "\n"


def write_summary(run: Run, info: dict[str, Any], argv: list[str]) -> None:
    lines = ["# GPU check", "", f"Command: `python3 tools/gpu_check.py {' '.join(argv)}`", ""]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    lines += ["", "| step | status | seconds | note |", "| --- | --- | ---: | --- |"]
    lines += [f"| {r['step']} | {r['status']} | {r['seconds']} | {r['note']} |" for r in run.results]
    lines += ["", "## Benchmarks (median step time, CUDA-synchronised)", "", bench_tables(run.out / "bench_gpu.json")]
    ulps = run.out / "ulps.md"
    lines += ["## Distance from torch's CUDA paths", "", ulps.read_text() if ulps.exists() else "(not measured)\n"]
    (run.out / "summary.md").write_text("\n".join(lines))
    (run.out / "summary.json").write_text(json.dumps({"environment": info, "steps": run.results}, indent=2))


def measure_ulps(path: Path) -> None:
    """Largest distance, over 10 steps on 4,099 elements with every hyperparameter on, between
    our Triton kernel and torch's fused and for-loop CUDA paths (plain ulps of the result, and
    ulps of the largest term: max(|θ before|, |θ after|, lr))."""
    import torch

    from adagrad.impl import targets

    cases = {"defaults": {}, "everything_on": dict(lr=0.1, lr_decay=0.01, weight_decay=0.1,
                                                  initial_accumulator_value=0.1, eps=1e-8, maximize=True)}  # fmt: skip
    refs = {"fused": lambda ps, **h: torch.optim.Adagrad(ps, fused=True, **h),
            "for-loop": lambda ps, **h: torch.optim.Adagrad(ps, foreach=False, **h)}  # fmt: skip
    ints = {torch.float32: torch.int32, torch.float64: torch.int64}

    def trajectory(make: Any, dtype: torch.dtype, hyper: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(0)
        p = torch.randn(4099, generator=gen).to("cuda", dtype).requires_grad_()
        grads = [torch.randn(4099, generator=gen).to("cuda", dtype) for _ in range(10)]
        p0 = p.detach().clone()
        opt = make([p], **hyper)
        for g in grads:
            p.grad = g
            opt.step()
        return p0, p.detach()

    def line(x: torch.Tensor) -> torch.Tensor:
        i = x.view(ints[x.dtype]).to(torch.int64)
        return torch.where(i < 0, -(i & ((1 << (8 * x.element_size() - 1)) - 1)), i)

    rows = ["| ours | vs torch (CUDA) | dtype | case | ulps of result | ulps of largest term |",
            "| --- | --- | --- | --- | ---: | ---: |"]  # fmt: skip
    for ref_name, ref in refs.items():
        for dtype in (torch.float32, torch.float64):
            for case, hyper in cases.items():
                p0, a = trajectory(targets.fused, dtype, hyper)
                _, b = trajectory(ref, dtype, hyper)
                scale = torch.maximum(p0.abs().max(b.abs()), torch.full_like(p0, hyper.get("lr", 1e-2)))
                spacing = torch.nextafter(scale, torch.full_like(scale, float("inf"))) - scale
                scaled = float(((a.double() - b.double()).abs() / spacing.double()).max())
                plain = int((line(a) - line(b)).abs().max())
                rows.append(f"| fused (Triton) | {ref_name} | {str(dtype)[6:]} | {case} | {plain} | {scaled:.1f} |")
    path.write_text("\n".join(rows) + "\n")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the logs, benchmark JSON, reports and summary.md")
    parser.add_argument("--wheels", type=Path, default=ROOT / "tools" / "gpu_wheels",
                        help="wheels for the offline install (default: tools/gpu_wheels)")  # fmt: skip
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {','.join(STEPS)}")
    parser.add_argument("--budget", type=float, default=460.0, help="seconds for the whole run (default 460)")
    parser.add_argument("--measure-ulps", action="store_true", help=argparse.SUPPRESS)  # internal: step ulps
    # Testing this script on a machine without a GPU: the steps run (and skip or fail) anyway.
    parser.add_argument("--allow-cpu", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure_ulps:
        measure_ulps(args.out)
        return 0
    reason = _no_gpu_reason()
    if reason is not None and not (args.allow_cpu and reason.startswith("no CUDA")):
        print(f"gpu-check: {reason}: nothing to check (run it on a GPU machine)", file=sys.stderr)
        return 2
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown steps {unknown}; known: {', '.join(STEPS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out.resolve()
    run = Run(out, args.budget)
    info = _environment()
    print(f"gpu-check: {info['device']}, torch {info['torch']}, triton {info['triton']}; results in {out}", flush=True)
    if "install" in steps and not step_install(run, args.wheels.resolve()):
        write_summary(run, info, argv)
        return 1
    for name, func in (("tests", step_tests), ("bench", step_bench), ("ulps", step_ulps), ("checks", step_checks)):
        if name in steps:
            func(run)
    write_summary(run, info, argv)
    print(f"gpu-check: summary in {out / 'summary.md'}", flush=True)
    return 0 if all(r["status"] == "passed" for r in run.results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
