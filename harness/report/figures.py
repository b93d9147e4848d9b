"""Report figures (written by harness.base.figure_files: byte-stable SVG and PNG).

- ``error_figures``: per game and panel (update rule; global errors apart), log-log local error against
  step size, one figure each, sized to be read at about PANEL_PX CSS pixels wide. Per flow a colour, a
  marker shape and a dash pattern; its fitted line, and its fitted slope in the legend under the axes (with
  "(on FLOW)" where its errors lie on an earlier flow's: its markers are then larger and hollow); a marker per
  error: filled if it entered the fit, hollow if it was excluded (pre-asymptotic or untrusted reference),
  a cross if it lies below the round-off floor. Dashed grey guides show the expected slopes.
- ``phase_figures``: per game and update rule, the phase plane of harness.measure.trajectories: discrete iterates
  against the gradient flow and the update rule's modified flow. Games of more than two dimensions are
  projected on (phi[0], theta[0]) (single objectives: (x[0], x[1])). The view is the gradient flow's extent
  enlarged VIEW times; trajectories are cut where they leave it.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator  # noqa: E402

from harness.base.figure_files import STYLE, SUPERSCRIPT, power_of_ten  # noqa: E402
from harness.checks import CheckResult  # noqa: E402
from harness.measure.trajectories import Trajectories  # noqa: E402

PANEL = (3.9, 3.3)
"""Inches of one panel: 374 CSS pixels wide at its natural size, where 11.5 pt text is 15.3 px tall."""
LEGEND_ROW = 0.22
"""Inches added below an error panel per flow, for its legend line (flow, fitted slope) under the axes."""
FlowStyle = tuple[str, str, Any]
"""(colour, marker, dash pattern) of a flow in the error figures."""
FLOW_STYLES: dict[str, FlowStyle] = {"gradient": ("tab:blue", "o", "-"), "modified": ("tab:orange", "s", "--"),
                                     "official": ("tab:green", "^", "-."), "igr": ("tab:orange", "s", "--")}
OTHER_STYLES: list[FlowStyle] = [("tab:red", "D", ":"), ("tab:purple", "v", (0, (6, 2))),
                                 ("tab:brown", "P", (0, (1, 2))), ("tab:pink", "X", (0, (4, 1, 1, 1))),
                                 ("tab:olive", "<", "-"), ("tab:cyan", ">", "--")]
ITERATE_COLOURS = {"simultaneous": "tab:red", "alternating": "tab:purple", "gd": "tab:red"}
VIEW = 3.0


def rule_name(scheme: str) -> str:
    """How an update rule is named in figures: "simultaneous GD", "alternating GD", "GD"."""
    return "GD" if scheme == "gd" else f"{scheme} GD"


def panel_key(r: CheckResult) -> str:
    """The panel a check is drawn in: its rule's name, with the measure when it is not local."""
    return r.spec.scheme.name + ("" if r.spec.measure == "local" else f" ({r.spec.measure} error)")


def plotted_checks(results: list[CheckResult], game: str) -> dict[str, list[CheckResult]]:
    """Per update rule (m = k = 1, phi first) and measure (local, then global error in a panel of its own),
    the checks at the parameters with the most flows, preferring unequal learning rates (where the two
    conventions differ); in the order the rules first appear."""
    groups: dict[tuple, list[CheckResult]] = {}
    for r in results:
        s = r.spec.scheme
        if r.spec.game == game and (s.m, s.k, s.first) == (1, 1, "phi"):
            groups.setdefault((panel_key(r), s.label), []).append(r)
    panels: dict[str, list[CheckResult]] = {}
    ranked = sorted(groups.items(), key=lambda item: (-len({r.spec.flow.name for r in item[1]}),
                                                      item[1][0].spec.scheme.lr1 == item[1][0].spec.scheme.lr2))
    for (name, _), checks in ranked:
        panels.setdefault(name, checks)
    order = list(dict.fromkeys(panel_key(r) for r in results))
    return dict(sorted(panels.items(), key=lambda item: order.index(item[0])))


def flow_styles(checks: list[CheckResult]) -> list[FlowStyle]:
    """(colour, marker, dash pattern) of each check's flow, distinct within a panel."""
    others = iter(OTHER_STYLES * len(checks))
    taken: set[tuple] = set()
    styles = []
    for r in checks:
        style = FLOW_STYLES.get(r.spec.flow.name)
        if style is None or style in taken:
            style = next(s for s in others if s not in taken)
        taken.add(style)
        styles.append(style)
    return styles


def _fitted_line(r: CheckResult) -> tuple[np.ndarray, np.ndarray] | None:
    """The fitted power law over the fit range, with the mean of the per-point intercepts."""
    fit, m = r.fit, r.measurement
    if fit.slope is None or not fit.fit_range or fit.used is None or not fit.used.any():
        return None
    log_h = np.log(np.broadcast_to(m.step_sizes, m.errors.shape)[fit.used])
    intercept = np.mean(np.log(m.errors[fit.used]) - fit.slope * log_h)
    h = np.array(fit.fit_range)
    return h, np.exp(intercept) * h**fit.slope


def _log_ticks(ax: plt.Axes, low: float, high: float, axis: str) -> None:
    """Labelled ticks at 1, 2 and 5 per decade over spans up to 2 decades (unlabelled minor ticks between),
    else at decades (at most 7, no minor ticks)."""
    narrow = np.log10(high / low) <= 2
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if narrow else (1.0,), numticks=7))
    target.set_major_formatter(FuncFormatter(power_of_ten))
    target.set_minor_formatter(NullFormatter())
    if not narrow:
        target.set_minor_locator(NullLocator())


TITLE_WIDTH = 36
"""Characters per title line (a 374 px panel holds about 40 at 11.5 pt)."""
SAME = 1.15
"""Two flows whose errors agree to this factor at every step size are drawn on top of each other (said so)."""


def title(*lines: str) -> str:
    """A panel title wrapped to TITLE_WIDTH characters per line."""
    return "\n".join(part for line in lines if line for part in textwrap.wrap(line, TITLE_WIDTH))


def on_top(checks: list[CheckResult]) -> dict[int, str]:
    """Index of a check -> the label of an earlier check in the panel whose errors agree with it to SAME at
    every step size and point (the two are drawn on top of each other)."""
    found: dict[int, str] = {}
    for j, later in enumerate(checks):
        for earlier in checks[:j]:
            a, b = later.measurement.errors, earlier.measurement.errors
            both = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
            if a.shape == b.shape and both.any() and np.all(np.abs(np.log(a[both] / b[both])) <= np.log(SAME)):
                found[j] = earlier.spec.flow.label
                break
    return found


def _error_panel(ax: plt.Axes, checks: list[CheckResult]) -> None:
    guides: dict[float, tuple[np.ndarray, np.ndarray]] = {}  # expected slope -> the lowest fitted line
    h = checks[0].measurement.step_sizes
    handles, labels = [], []
    values = []
    overlaps = on_top(checks)
    for index, (r, (colour, marker, dashes)) in enumerate(zip(checks, flow_styles(checks), strict=True)):
        m, fit = r.measurement, r.fit
        used = fit.used if fit.used is not None else np.zeros(m.errors.shape, dtype=bool)
        finite = np.isfinite(m.errors) & (m.errors > 0)
        floor = finite & (m.errors < m.floor)
        hh = np.broadcast_to(h, m.errors.shape)
        size = 5 if index not in overlaps else 9  # drawn on top of an earlier flow: larger, hollow markers
        for mask, style in ((used, {"color": colour}), (finite & ~used & ~floor, {"mfc": "none"})):
            ax.loglog(hh[mask], m.errors[mask], marker, mec=colour, ms=size, ls="none", zorder=3 - 0.1 * index,
                      **({"mfc": "none", "mew": 1.4} if index in overlaps else style))
        ax.loglog(hh[floor], m.errors[floor], "x", color=colour, ms=5)
        values.append(m.errors[finite])
        line = _fitted_line(r)
        text = f"{r.spec.flow.label}: " + ("no fit" if fit.slope is None else f"slope {fit.slope:.2f}")
        if index in overlaps:
            text += f" (on {overlaps[index]})"
        if line is not None:
            ax.loglog(*line, color=colour, ls=dashes, lw=1.6)
            expected = float(r.spec.expected_slope or 0.0)
            lowest = guides.get(expected)
            if lowest is None or line[1][0] < lowest[1][0]:
                guides[expected] = line
        handles.append(Line2D([], [], color=colour, ls=dashes, lw=1.6, marker=marker, ms=5))
        labels.append(text)
    for guide, (span, line_values) in sorted(guides.items()):
        anchor = line_values[0] / 3
        ax.loglog(span, anchor * (span / span[0]) ** guide, "--", color="0.55", lw=0.9)
        middle = np.sqrt(span[0] * span[1])
        ax.annotate(f"h{f'{guide:g}'.translate(SUPERSCRIPT)}", (middle, anchor * (middle / span[0]) ** guide),
                    color="0.35", xytext=(3, -15), textcoords="offset points")
    spec, horizon = checks[0].spec, checks[0].measurement.horizon
    details = spec.scheme.label.partition("(")[2].rstrip(")")
    if spec.measure == "global":
        details += f"; global error at T = {horizon:.3g}"
    ax.set_title(title(f"{spec.game}: {rule_name(spec.scheme.name)}", details))
    ax.set_ylabel("global error at T" if spec.measure == "global" else "local error |update − flow|")
    ax.set_xlabel("step size h")
    found = np.concatenate(values) if values else np.array([1.0])
    _log_ticks(ax, h.min(), h.max(), "x")
    _log_ticks(ax, found.min() if found.size else 1e-16, found.max() if found.size else 1.0, "y")
    ax.grid(True, which="major", alpha=0.3)
    ax.figure.legend(handles, labels, loc="outside lower center", handlelength=2.2, borderpad=0.3, labelspacing=0.25,
                     handletextpad=0.4, frameon=False)


def error_figures(results: list[CheckResult], game: str) -> dict[str, plt.Figure]:
    """One log-log figure per panel of ``game`` (stem suffix -> figure; empty if no check has m = k = 1
    and phi first)."""
    figures = {}
    for key, checks in plotted_checks(results, game).items():
        with plt.rc_context(STYLE):
            fig, ax = plt.subplots(figsize=(PANEL[0], PANEL[1] + LEGEND_ROW * len(checks)), layout="constrained")
            fig.get_layout_engine().set(w_pad=0.03, h_pad=0.03)  # type: ignore[union-attr,call-arg]
            _error_panel(ax, checks)
        figures[panel_suffix(key)] = fig
    return figures


def panel_suffix(key: str) -> str:
    """The file-name suffix of a panel (``panel_key``): "alternating (global error)" -> "alternating-global-error"."""
    return re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")


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


def phase_figures(paths: Trajectories, dims: tuple[int, int]) -> dict[str, plt.Figure]:
    """The phase-plane figures of one game's trajectories, one per update rule (its name -> figure)."""
    (i, j), (xlabel, ylabel), note = projection(dims)
    figures = {}
    for panel in paths.panels:
        with plt.rc_context(STYLE):
            fig, ax = plt.subplots(figsize=(PANEL[0], PANEL[1] + (0.3 if note else 0.0)))
            duration = paths.h * paths.steps
            curves = {name: _plane(path, i, j, duration) for name, path in panel.flows.items()}
            iterates = _plane(panel.iterates, i, j, duration)
            low, high = _view([iterates, *curves.values()], curves["gradient"])
            for name, curve in curves.items():
                ax.plot(*_cut(curve, low, high).T, color=FLOW_STYLES[name][0], ls=FLOW_STYLES[name][2], lw=1.6,
                        label=f"{name} flow")
            cut = _cut(iterates, low, high)
            ax.plot(*cut.T, ".-", color=ITERATE_COLOURS[panel.scheme.name], lw=0.6, ms=4, label="iterates")
            ax.plot(*iterates[0], "k*", ms=9, label="start")
            ax.set_xlim(low[0], high[0])
            ax.set_ylim(low[1], high[1])
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(title(f"{paths.game}: {rule_name(panel.scheme.name)}",
                               f"h = {paths.h:.3g}, {paths.steps} steps", note))
            ax.grid(True, alpha=0.2)
            ax.legend(loc="best", handlelength=1.6, borderpad=0.3, labelspacing=0.25, framealpha=0.85)
            fig.tight_layout(pad=0.4)
        figures[panel.scheme.name] = fig
    return figures


def _plane(path: np.ndarray, i: int, j: int, duration: float) -> np.ndarray:
    """Columns i and j of a [time, state] path sampled evenly over ``duration`` (index -1: the time)."""
    columns = np.column_stack([path, np.linspace(0.0, duration, len(path))])
    return columns[:, [i, j]]
