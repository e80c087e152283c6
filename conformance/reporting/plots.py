"""The HTML report's plots: what each shows (:func:`plot_specs`, pure) and how it is drawn (matplotlib).

Error against step, per feature and dtype: one line per recorded case (the worst error over all
elements after each step, in ulps of the dtype); the tolerance drawn as a dashed line; exact
results (0 ulps) drawn at 0 on a scale that is linear below 1 ulp and logarithmic above, and
marked; non-finite errors drawn in a band at the top; failing cases in red with the step where
they failed marked. Golden: the worst error of each golden case against its tolerance.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass, field
from typing import Any

from adagrad.conformance.reporting.model import FAILING, Report, Result

__all__ = [
    "PlotSpec",
    "SeriesSpec",
    "draw_golden",
    "draw_steps",
    "golden_cases",
    "plot_specs",
    "png_base64",
    "require_matplotlib",
]

#: Cases drawn per plot at most (a thorough run records hundreds): failing ones first.
MAX_SERIES = 150
_FAIL, _PASS, _TOL, _EXACT = "#c62828", "#1f5fbf", "#e08a00", "#2e7d32"


def require_matplotlib() -> None:
    """Raise ImportError, saying what to install, unless matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "the HTML report (--html) needs matplotlib: pip install 'adagrad-conformance[plots]'"
        ) from exc


@dataclass
class SeriesSpec:
    """One case's per-step worst errors (None: non-finite) and, if it failed, the step to mark."""

    test_id: str
    errors: list[float | None]
    failed: bool
    fail_step: int | None
    tolerance: float | None


@dataclass
class PlotSpec:
    """One error-against-step plot: a feature and dtype, its cases, the tolerances to draw."""

    feature: str
    dtype: str
    series: list[SeriesSpec] = field(default_factory=list)

    @property
    def tolerances(self) -> list[float]:
        """The distinct finite tolerances of the drawn cases (each drawn as a dashed line)."""
        return sorted({s.tolerance for s in self.series if s.tolerance is not None and math.isfinite(s.tolerance)})

    @property
    def exact_points(self) -> int:
        """How many (case, step) errors are exactly 0 ulps."""
        return sum(e == 0 for s in self.series for e in s.errors)

    @property
    def nonfinite_points(self) -> int:
        """How many (case, step) errors are non-finite."""
        return sum(e is None for s in self.series for e in s.errors)


def _fail_step(result: Result, errors: list[float | None]) -> int | None:
    if result.outcome not in FAILING:
        return None
    if result.failure is not None and result.failure.step and 1 <= result.failure.step <= len(errors):
        return result.failure.step
    tol = result.tolerance_ulps
    for i, e in enumerate(errors, 1):  # no recorded step: the first one outside the tolerance
        if e is None or (tol is not None and e > tol):
            return i
    return None


def plot_specs(report: Report) -> list[PlotSpec]:
    """One spec per (feature, dtype) with recorded per-step errors, in report order; failing cases first."""
    specs: dict[tuple[str, str], PlotSpec] = {}
    for r in report.results:
        for s in r.step_ulps:
            if not s.errors:
                continue
            spec = specs.setdefault((r.feature, s.dtype), PlotSpec(r.feature, s.dtype))
            failed = r.outcome in FAILING
            spec.series.append(SeriesSpec(r.id, list(s.errors), failed, _fail_step(r, s.errors), r.tolerance_ulps))
    for spec in specs.values():
        spec.series.sort(key=lambda s: not s.failed)  # stable: report order within each group
        del spec.series[MAX_SERIES:]
    return list(specs.values())


def golden_cases(report: Report) -> list[Result]:
    """Golden results that ran, sorted by id (the x axis of the golden plot).

    A failing case without a finite worst error (non-finite, or not measured: a crash) is drawn in
    the band at the top.
    """
    return sorted(
        (
            r
            for r in report.results
            if r.feature == "golden"
            and (r.outcome in FAILING or (r.outcome in ("passed", "xfailed", "xpassed") and r.worst_ulps is not None))
        ),
        key=lambda r: r.id,
    )


def _axes(figsize: tuple[float, float]) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize, dpi=100)
    return fig, ax


def _finish(fig: Any, ax: Any, top: float, band: float | None, band_label: str = "non-finite") -> None:
    """The y scale, linear below 1 ulp (0 drawn at 0) and logarithmic above; the non-finite band; the legend.

    ``top`` is the largest finite value drawn; ``band`` where non-finite errors are drawn (None: none).
    """
    from matplotlib.ticker import FuncFormatter

    def label(y: float, _: Any) -> str:
        if band is not None and y > top * 1.5:  # no numeric tick inside the non-finite band
            return ""
        return "0" if y == 0 else (f"{y:g}" if y < 1e4 else f"1e{math.log10(y):.0f}")

    ax.set_yscale("symlog", linthresh=1.0, linscale=0.6)
    ax.set_ylim(-0.15, (band or top) * 3)
    ax.yaxis.set_major_formatter(FuncFormatter(label))
    ax.grid(True, which="major", axis="y", color="#ddd", linewidth=0.6)
    if band is not None:
        ax.axhspan(band / 2.2, band * 2.2, color=_FAIL, alpha=0.08, linewidth=0)
        ax.text(
            -0.02,
            band,
            band_label.replace(" ", "\n", 1),
            transform=ax.get_yaxis_transform(),
            ha="right",
            va="center",
            fontsize=7,
            color=_FAIL,
        )
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.07 if handles else 0, 1, 1))


def draw_steps(spec: PlotSpec) -> Any:
    """The matplotlib Figure of one error-against-step plot."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = _axes((4.8, 3.3))
    finite = [e for s in spec.series for e in s.errors if e is not None]
    top = max([1.0, *finite, *spec.tolerances])
    band = top * 30 if spec.nonfinite_points else None  # non-finite errors drawn here
    steps = max(len(s.errors) for s in spec.series)
    marked: set[int] = set()
    for s in reversed(spec.series):  # failing ones last: on top
        xs = list(range(1, len(s.errors) + 1))
        ys = [band if e is None else e for e in s.errors]
        if s.failed:
            ax.plot(xs, ys, color=_FAIL, linewidth=1.8, marker="o", markersize=3, zorder=4)
            if s.fail_step is not None:
                y = ys[s.fail_step - 1]
                ax.plot(
                    [s.fail_step],
                    [y],
                    marker="*",
                    markersize=13,
                    color=_FAIL,
                    markeredgecolor="black",
                    linestyle="none",
                    zorder=6,
                )
                if s.fail_step not in marked:
                    marked.add(s.fail_step)
                    ax.annotate(
                        f"failed at step {s.fail_step}",
                        (s.fail_step, y),
                        textcoords="offset points",
                        xytext=(8, -14),
                        fontsize=8,
                        color=_FAIL,
                        zorder=6,
                    )
        else:
            ax.plot(xs, ys, color=_PASS, linewidth=1.0, alpha=0.45, marker=".", markersize=3, zorder=3)
    for k, tol in enumerate(spec.tolerances):
        ax.axhline(
            tol,
            color=_TOL,
            linestyle="--",
            linewidth=1.4,
            zorder=5,
            label=f"tolerance {tol:g} ulps"
            if len(spec.tolerances) == 1
            else (f"tolerances ({len(spec.tolerances)})" if k == 0 else None),
        )
    zeros = [(i, 0.0) for s in spec.series for i, e in enumerate(s.errors, 1) if e == 0]
    if zeros:
        ax.plot(
            *zip(*zeros, strict=True),
            linestyle="none",
            marker="o",
            markersize=5,
            markerfacecolor="none",
            markeredgecolor=_EXACT,
            label="exact (0 ulps)",
            zorder=5,
        )
    if band is not None:
        nonfinite = [(i, band) for s in spec.series for i, e in enumerate(s.errors, 1) if e is None]
        ax.plot(
            *zip(*nonfinite, strict=True),
            linestyle="none",
            marker="X",
            markersize=7,
            color=_FAIL,
            label="non-finite",
            zorder=6,
        )
    ax.set_xlim(0.5, steps + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_xlabel("step")
    ax.set_ylabel("worst error (ulps)")
    failed = sum(s.failed for s in spec.series)
    ax.set_title(
        f"{spec.feature}, {spec.dtype}: {len(spec.series)} case(s)" + (f", {failed} failed" if failed else ""),
        fontsize=9,
    )
    _finish(fig, ax, top, band)
    return fig


def draw_golden(cases: list[Result]) -> Any:
    """The matplotlib Figure of the golden cases: worst error of each against its tolerance."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = _axes((9.6, 3.1))
    xs = list(range(1, len(cases) + 1))
    worst = [math.inf if r.worst_ulps is None else r.worst_ulps for r in cases]
    finite = [w for w in worst if math.isfinite(w)]
    tols = [r.tolerance_ulps for r in cases]
    top = max([1.0, *finite, *(t for t in tols if t is not None and math.isfinite(t))])
    band = top * 30 if any(not math.isfinite(w) for w in worst) else None
    if any(t is not None for t in tols):
        ax.step(
            xs,
            [math.nan if t is None else t for t in tols],
            where="mid",
            color=_TOL,
            linestyle="--",
            linewidth=1.4,
            label="tolerance (per case)",
            zorder=5,
        )
    groups = (
        ("passed", lambda r, w: r.outcome not in FAILING and w > 0, dict(marker="o", color=_PASS, markersize=4)),
        (
            "exact (0 ulps)",
            lambda r, w: r.outcome not in FAILING and w == 0,
            dict(marker="o", markerfacecolor="none", markeredgecolor=_EXACT, markersize=5),
        ),
        ("failed", lambda r, w: r.outcome in FAILING, dict(marker="X", color=_FAIL, markersize=8)),
    )
    for label, keep, style in groups:
        pts = [(x, w if math.isfinite(w) else band) for x, r, w in zip(xs, cases, worst, strict=True) if keep(r, w)]
        if pts:
            ax.plot(*zip(*pts, strict=True), linestyle="none", label=label, zorder=6, **style)
    ax.set_xlim(0.5, len(cases) + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_xlabel("golden case (numbered by test id, as listed below the plot)")
    ax.set_ylabel("worst error (ulps)")
    ax.set_title(f"golden: worst error of {len(cases)} case(s) against its tolerance", fontsize=9)
    _finish(fig, ax, top, band, "non-finite or not measured")
    return fig


def png_base64(fig: Any) -> str:
    """The figure as a base64 PNG (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")
