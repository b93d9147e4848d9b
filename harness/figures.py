"""Report figures, written as SVG (byte-stable: no date, fixed id salt) and PNG.

- ``error_figure``: per game, log-log local error against step size, one panel per update rule. Per
  flow, the fitted line (slope ± standard error and status in the legend) and one marker shape per
  initial point: filled if the error entered the fit, hollow if it was excluded (pre-asymptotic or
  untrusted reference), a cross if it lies below the round-off floor. Dashed grey guides show the
  expected slopes.
- ``phase_figure``: per game, the phase plane of harness.trajectories: discrete iterates against the
  gradient flow and the update rule's modified flow, one panel per update rule. Games of more than two
  dimensions are projected on (phi[0], theta[0]) (single objectives: (x[0], x[1])). The view is the
  gradient flow's extent enlarged VIEW times; trajectories are cut where they leave it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

from harness.checks import CheckResult  # noqa: E402
from harness.trajectories import Trajectories  # noqa: E402

STYLE: Any = {"svg.hashsalt": "discretization-drift-harness", "svg.fonttype": "none", "font.size": 9,
         "axes.titlesize": 9.5, "legend.fontsize": 7, "legend.title_fontsize": 7}
PNG_DPI = 80
FLOW_COLOURS = {"gradient": "tab:blue", "modified": "tab:orange", "official": "tab:green", "igr": "tab:orange"}
OTHER_COLOURS = ["tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan"]
POINT_MARKERS = "osD^vP*X"
ITERATE_COLOURS = {"simultaneous": "tab:red", "alternating": "tab:purple", "gd": "tab:red"}
VIEW = 3.0
MAX_COLUMNS = 3


def rule_name(scheme: str) -> str:
    """How an update rule is named in figures: "simultaneous GD", "alternating GD", "GD"."""
    return "GD" if scheme == "gd" else f"{scheme} GD"


def save(fig: plt.Figure, folder: Path, stem: str) -> list[str]:
    """Write ``stem.svg`` and ``stem.png`` into ``folder``; return their names."""
    folder.mkdir(parents=True, exist_ok=True)
    with plt.rc_context(STYLE):
        fig.savefig(folder / f"{stem}.svg", metadata={"Date": None})
        fig.savefig(folder / f"{stem}.png", dpi=PNG_DPI, metadata={"Software": None})
    plt.close(fig)
    return [f"{stem}.svg", f"{stem}.png"]


def plotted_checks(results: list[CheckResult], game: str) -> dict[str, list[CheckResult]]:
    """Per update rule (m = k = 1, phi first) and measure (local, then global error in a panel of its own),
    the checks at the parameters with the most flows, preferring unequal learning rates (where the two
    conventions differ); in the order the rules first appear."""

    def panel(r: CheckResult) -> str:
        return r.spec.scheme.name + ("" if r.spec.measure == "local" else f" ({r.spec.measure} error)")

    groups: dict[tuple, list[CheckResult]] = {}
    for r in results:
        s = r.spec.scheme
        if r.spec.game == game and (s.m, s.k, s.first) == (1, 1, "phi"):
            groups.setdefault((panel(r), s.label), []).append(r)
    panels: dict[str, list[CheckResult]] = {}
    ranked = sorted(groups.items(), key=lambda item: (-len({r.spec.flow.name for r in item[1]}),
                                                      item[1][0].spec.scheme.lr1 == item[1][0].spec.scheme.lr2))
    for (name, _), checks in ranked:
        panels.setdefault(name, checks)
    order = list(dict.fromkeys(panel(r) for r in results))
    return dict(sorted(panels.items(), key=lambda item: order.index(item[0])))


def _fitted_line(r: CheckResult) -> tuple[np.ndarray, np.ndarray] | None:
    """The fitted power law over the fit range, with the mean of the per-point intercepts."""
    fit, m = r.fit, r.measurement
    if fit.slope is None or not fit.fit_range or fit.used is None or not fit.used.any():
        return None
    log_h = np.log(np.broadcast_to(m.step_sizes, m.errors.shape)[fit.used])
    intercept = np.mean(np.log(m.errors[fit.used]) - fit.slope * log_h)
    h = np.array(fit.fit_range)
    return h, np.exp(intercept) * h**fit.slope


def _error_panel(ax: plt.Axes, checks: list[CheckResult]) -> None:
    guides: dict[float, tuple[np.ndarray, np.ndarray]] = {}  # expected slope -> the lowest fitted line
    h = checks[0].measurement.step_sizes
    others = iter(OTHER_COLOURS * len(checks))
    for r in checks:
        m, fit = r.measurement, r.fit
        colour = FLOW_COLOURS.get(r.spec.flow.name) or next(others)
        used = fit.used if fit.used is not None else np.zeros(m.errors.shape, dtype=bool)
        finite = np.isfinite(m.errors) & (m.errors > 0)
        floor = finite & (m.errors < m.floor)
        for p in range(m.errors.shape[0]):
            marker = POINT_MARKERS[p % len(POINT_MARKERS)]
            for mask, style in ((used[p], {"color": colour}), (finite[p] & ~used[p] & ~floor[p], {"mfc": "none"})):
                ax.loglog(h[mask], m.errors[p, mask], marker, mec=colour, ms=4, ls="none", **style)
            ax.loglog(h[floor[p]], m.errors[p, floor[p]], "x", color=colour, ms=4)
        slope = "no fit" if fit.slope is None else f"{fit.slope:.3f} ± {fit.stderr:.3f}"
        line = _fitted_line(r)
        if line is not None:
            ax.loglog(*line, "-", color=colour, lw=1.2)
            expected = float(r.spec.expected_slope or 0.0)
            lowest = guides.get(expected)
            if lowest is None or line[1][0] < lowest[1][0]:
                guides[expected] = line
        ax.plot([], [], "-", color=colour, label=f"{r.spec.flow.label}: slope {slope} ({fit.status})")
    for guide, (span, values) in sorted(guides.items()):
        anchor = values[0] / 3
        ax.loglog(span, anchor * (span / span[0]) ** guide, "--", color="0.55", lw=0.8)
        ax.annotate(f"$h^{{{guide:g}}}$", (span[0], anchor), fontsize=8, color="0.4", xytext=(4, -10),
                    textcoords="offset points")
    spec, horizon = checks[0].spec, checks[0].measurement.horizon
    if spec.measure == "global":
        ax.set_title(f"{spec.game}: {spec.scheme.label}, global error at T = {horizon:.3g}")
        ax.set_ylabel("global error |T/h updates − flow at T|")
    else:
        ax.set_title(f"{spec.game}: {spec.scheme.label}")
        ax.set_ylabel("local error |update − flow|")
    ax.set_xlabel("step size h")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, alpha=0.25)
    flows = ax.legend(loc="lower right", title="flow: fitted slope ± s.e. (status)")
    ax.add_artist(flows)
    points = checks[0].measurement.errors.shape[0]
    keys = [Line2D([], [], marker=POINT_MARKERS[p % len(POINT_MARKERS)], color="k", ls="none", ms=4,
                   label="default state" if p == 0 else f"point {p + 1}") for p in range(points)]
    keys += [Line2D([], [], marker="o", mfc="none", mec="k", ls="none", ms=4, label="not in fit"),
             Line2D([], [], marker="x", color="k", ls="none", ms=4, label="below round-off floor"),
             Line2D([], [], ls="--", color="0.55", label="expected slope")]
    ax.legend(handles=keys, loc="upper left", ncols=2)


def error_figure(results: list[CheckResult], game: str) -> plt.Figure | None:
    """The log-log figure of ``game``, at most MAX_COLUMNS panels a row (None if no check has m = k = 1 and
    phi first)."""
    panels = plotted_checks(results, game)
    if not panels:
        return None
    columns = min(len(panels), MAX_COLUMNS)
    rows = -(-len(panels) // columns)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(rows, columns, figsize=(5.4 * columns, 4.4 * rows), squeeze=False)
        for ax, checks in zip(axes.flat, panels.values(), strict=False):
            _error_panel(ax, checks)
        for ax in axes.flat[len(panels):]:
            ax.set_visible(False)
        fig.tight_layout()
    return fig


def projection(dims: tuple[int, int]) -> tuple[tuple[int, int], tuple[str, str], str]:
    """Indices of the two plotted coordinates (-1: time), their axis labels, and a note when the plane is a
    projection."""
    a, b = dims
    if b == 0:
        if a == 1:
            return (-1, 0), ("time t", "x"), ""
        return (0, 1), ("x[0]", "x[1]"), f"projection on (x[0], x[1]) of {a} dimensions" if a > 2 else ""
    if a + b == 2:
        return (0, 1), ("φ", "θ"), ""
    return (0, a), ("φ[0]", "θ[0]"), f"projection on (φ[0], θ[0]) of {a} + {b} dimensions"


def _view(paths: list[np.ndarray], reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper corners: the extent of every path inside the reference's extent enlarged VIEW times."""
    reference = reference[np.all(np.isfinite(reference), axis=1)]
    centre = (reference.max(axis=0) + reference.min(axis=0)) / 2
    half = np.maximum((reference.max(axis=0) - reference.min(axis=0)) / 2, 1e-3 * (1 + np.abs(centre)))
    low, high = centre - VIEW * half, centre + VIEW * half
    inside = np.vstack([p[np.all((p >= low) & (p <= high), axis=1)] for p in paths])
    pad = 0.05 * (inside.max(axis=0) - inside.min(axis=0) + 1e-12)
    return inside.min(axis=0) - pad, inside.max(axis=0) + pad


def _cut(path: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The path up to and including its first point outside the view (or non-finite)."""
    outside = ~np.all(np.isfinite(path) & (path >= low) & (path <= high), axis=1)
    return path[: np.argmax(outside) + 1] if outside.any() else path


def phase_figure(paths: Trajectories, dims: tuple[int, int]) -> plt.Figure:
    """The phase-plane figure of one game's trajectories."""
    (i, j), (xlabel, ylabel), note = projection(dims)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(paths.panels), figsize=(5.4 * len(paths.panels), 4.6), squeeze=False)
        for ax, panel in zip(axes[0], paths.panels, strict=True):
            duration = paths.h * paths.steps
            curves = {name: _plane(path, i, j, duration) for name, path in panel.flows.items()}
            iterates = _plane(panel.iterates, i, j, duration)
            low, high = _view([iterates, *curves.values()], curves["gradient"])
            for name, curve in curves.items():
                ax.plot(*_cut(curve, low, high).T, "-", color=FLOW_COLOURS[name], lw=1.4, label=f"{name} flow")
            cut = _cut(iterates, low, high)
            ax.plot(*cut.T, ".-", color=ITERATE_COLOURS[panel.scheme.name], lw=0.5, ms=3.5,
                    label=f"{rule_name(panel.scheme.name)} iterates")
            ax.plot(*iterates[0], "k*", ms=8, label="start (default state)")
            ax.set_xlim(low[0], high[0])
            ax.set_ylim(low[1], high[1])
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(f"{paths.game}: {rule_name(panel.scheme.name)}, h = {paths.h:.3g}, {paths.steps} steps"
                         + (f"\n{note}" if note else ""))
            ax.grid(True, alpha=0.2)
            ax.legend(loc="best")
        fig.tight_layout()
    return fig


def _plane(path: np.ndarray, i: int, j: int, duration: float) -> np.ndarray:
    """Columns i and j of a [time, state] path sampled evenly over ``duration`` (index -1: the time)."""
    columns = np.column_stack([path, np.linspace(0.0, duration, len(path))])
    return columns[:, [i, j]]
