"""Prints, after ``make bench``, the table that ``docs/performance.md`` holds.

Ratios are ours/torch median step times from the same run; bandwidth is bytes moved per step
over the median time: a step reads param, grad and sum and writes param and sum (20 bytes per
float32 element), a copy reads and writes once (8 bytes per element).
"""

from __future__ import annotations

from typing import Any

BYTES_PER_ELEMENT = {"step": 20, "copy": 8}


def pytest_configure(config: Any) -> None:
    """One intra-op thread: on a small shared machine, ATen's per-op thread hand-off and other
    processes' load made 2-thread medians swing by 2-10x between identical runs."""
    import torch

    torch.set_num_threads(1)


def pytest_terminal_summary(terminalreporter: Any, config: Any) -> None:
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    median: dict[tuple[str, str, str], float] = {}
    elements: dict[str, int] = {}
    for bench in session.benchmarks:
        info = bench.extra_info
        if "suite" in info:
            continue  # test_bench_gpu.py: tabulated by tools/gpu_check.py from the JSON
        median[(info["impl"], info["path"], info["layout"])] = bench.stats.median
        elements[info["layout"]] = info["elements"]
    write = terminalreporter.write_line
    write("")
    write("| path | layout | torch median (ms) | ours median (ms) | ours / torch |")
    write("| --- | --- | ---: | ---: | ---: |")
    for path in ("for_loop", "foreach", "fused"):
        for layout in elements:
            t, o = median.get(("torch", path, layout)), median.get(("ours", path, layout))
            if t and o:
                write(f"| {path} | {layout} | {t * 1e3:.2f} | {o * 1e3:.2f} | {o / t:.2f} |")
    write("")
    write("| layout | fused ours (GB/s) | fused torch (GB/s) | copy (GB/s) |")
    write("| --- | ---: | ---: | ---: |")
    for layout, n in elements.items():
        cells = []
        for key, kind in ((("ours", "fused"), "step"), (("torch", "fused"), "step"), (("copy", "copy"), "copy")):
            m = median.get((*key, layout))
            cells.append(f"{BYTES_PER_ELEMENT[kind] * n / m / 1e9:.1f}" if m else "-")
        write(f"| {layout} | " + " | ".join(cells) + " |")
