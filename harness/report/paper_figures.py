"""Figures of the report section "The paper, checked" (harness.report.paper), in the style of harness.report.figures.

- ``stability_panels``: per update rule, the behaviour of the iterates near the equilibrium over the grid of
  (alpha h, lambda h) on log10 axes (rho(M) < 1, = 1, > 1) and what each flow predicts there (max Re eig of its
  Jacobian < 0, = 0, > 0), one figure per panel (a page lays them out in a grid that reflows); the boundary
  of the update rule's divergence region is drawn on every panel. ``stability_figure``: the same in one figure.
- ``drift_panels``: per update rule and convention, one figure of the sizes of the self and interaction
  terms of the first-order drift along the update rule's iterates (``drift_figure``: all in one figure).
- ``distance_figure``: distance to the equilibrium |z_n - z*| against the step n for several update rules.
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.artist import Artist  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from harness.base.figure_files import STYLE  # noqa: E402
from harness.measure.drift import TERMS, DriftAlongPath  # noqa: E402
from harness.measure.stability import CLASSES, StabilityMap  # noqa: E402

_STYLE: Any = STYLE  # matplotlib's stubs type rc_context's keys as literals
CLASS_COLOURS = ("#9ecae1", "#e6e6e6", "#fc9272")  # converges, cycles, diverges
TERM_STYLES = {TERMS[0]: ("tab:blue", "-"), TERMS[1]: ("tab:blue", "--"), TERMS[2]: ("tab:red", "-"),
               TERMS[3]: ("tab:red", "--")}
CONVENTIONS = {"modified": "joint convention", "official": "official-code convention"}
DISTANCE_STYLES = [("tab:red", "-", "o"), ("tab:blue", "--", "s"), ("tab:green", ":", "^"), ("0.35", "-.", "D"),
                   ("tab:purple", (0, (6, 2)), "v"), ("tab:brown", (0, (1, 2)), "P")]


def _class_panel(ax: plt.Axes, smap: StabilityMap, classes: np.ndarray, title: str) -> None:
    """One panel on log10 axes (plotted as linear axes of log10 values: far cheaper to lay out)."""
    x, y = np.log10(smap.x), np.log10(smap.y)
    ax.imshow(classes, cmap=ListedColormap(CLASS_COLOURS), vmin=-0.5, vmax=2.5, origin="lower", aspect="auto",
              extent=(x[0], x[-1], y[0], y[-1]), interpolation="nearest")
    diverges = (smap.discrete == 2).astype(float)
    if 0 < diverges.mean() < 1:
        ax.contour(x, y, diverges, levels=[0.5], colors="k", linewidths=1.0)
    ax.set_xlabel("log₁₀ α h")
    ax.set_ylabel("log₁₀ λ h")
    ax.set_title(title)


def stability_figure(maps: list[StabilityMap]) -> plt.Figure:
    """Rows: update rules (one StabilityMap each, same game); columns: the iterates, then each flow."""
    columns = 1 + max(len(m.flows) for m in maps)
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(len(maps), columns, figsize=(3.3 * columns, 3.1 * len(maps) + 0.5),
                                 squeeze=False)
        for row, smap in zip(axes, maps, strict=True):
            rule = smap.scheme.name
            _class_panel(row[0], smap, smap.discrete, f"{rule} iterates")
            for ax, (name, classes) in zip(row[1:], smap.flows.items(), strict=False):
                _class_panel(ax, smap, classes, f"{name} flow of {rule}\nagrees at {100 * smap.agreement(name):.0f}% "
                             "of the grid")
            for ax in row[1 + len(smap.flows):]:
                ax.set_visible(False)
        handles: list[Artist] = [Patch(color=c, label=label) for c, label in zip(CLASS_COLOURS, CLASSES, strict=True)]
        handles.append(Line2D([], [], color="k", lw=1.0, label="where the iterates start to diverge"))
        fig.legend(handles=handles, loc="lower center", ncols=len(handles))
        fig.suptitle(f"{maps[0].game}: linear stability at the equilibrium over (α h, λ h)")
        fig.subplots_adjust(left=0.06, right=0.98, bottom=0.16 if len(maps) < 3 else 0.1, top=0.86, wspace=0.3,
                            hspace=0.55)
    return fig


STABILITY_PANEL = (3.4, 3.2)
"""Inches of one stability panel: 326 CSS pixels at its natural size, so that 11.5 pt text stays above 11 px
on a 376 px phone column."""


def stability_legend() -> str:
    """The colours of the stability panels in words (for a caption)."""
    names = ("light blue", "light grey", "light red")
    return ", ".join(f"{name}: {label}" for name, label in zip(names, CLASSES, strict=True)) + \
        "; black line: where the iterates start to diverge"


def stability_panels(maps: list[StabilityMap]) -> dict[str, plt.Figure]:
    """One figure per panel of ``stability_figure``: "RULE-iterates", then "RULE-FLOW" per flow."""
    figures = {}
    for smap in maps:
        rule = smap.scheme.name
        panels = [("iterates", smap.discrete, f"{smap.game}: {rule} GD,\nits iterates")]
        panels += [(name, classes, f"{name} flow of {rule} GD:\nagrees at {100 * smap.agreement(name):.0f}% "
                    "of the grid") for name, classes in smap.flows.items()]
        for key, classes, title in panels:
            with plt.rc_context(_STYLE):
                fig, ax = plt.subplots(figsize=STABILITY_PANEL)
                _class_panel(ax, smap, classes, title)
                fig.tight_layout(pad=0.4)
            figures[f"{rule}-{key}"] = fig
    return figures


DRIFT_PANEL = (4.2, 3.4)


def drift_panels(paths: list[DriftAlongPath]) -> dict[str, plt.Figure]:
    """One figure per update rule and convention of ``drift_figure``: "RULE-FLOW"."""
    figures = {}
    for path in paths:
        steps = np.arange(len(path.path))
        s = path.scheme
        for flow, terms in path.sizes.items():
            with plt.rc_context(_STYLE):
                fig, ax = plt.subplots(figsize=DRIFT_PANEL)
                for term, values in terms.items():
                    colour, style = TERM_STYLES[term]
                    ax.semilogy(steps, np.maximum(values, 1e-300), style, color=colour, lw=1.1, label=term)
                ax.set_title(f"{s.name} GD (α {s.lr1:g}, λ {s.lr2:g}),\n{CONVENTIONS.get(flow, flow)}")
                ax.set_xlabel("step n")
                ax.set_ylabel("|drift term| at z_n")
                ax.grid(True, alpha=0.25)
                ax.legend(loc="best", handlelength=1.8, borderpad=0.3, labelspacing=0.2)
                fig.tight_layout(pad=0.4)
            figures[f"{s.name}-{flow}"] = fig
    return figures


def drift_figure(paths: list[DriftAlongPath]) -> plt.Figure:
    """Columns: update rules (one DriftAlongPath each); rows: the conventions (flows) in the first one."""
    flows = list(paths[0].sizes)
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(len(flows), len(paths), figsize=(4.6 * len(paths), 3.3 * len(flows)),
                                 squeeze=False, sharey=True)
        for column, path in enumerate(paths):
            steps = np.arange(len(path.path))
            for row, flow in enumerate(flows):
                ax = axes[row, column]
                for term, values in path.sizes[flow].items():
                    colour, style = TERM_STYLES[term]
                    ax.semilogy(steps, np.maximum(values, 1e-300), style, color=colour, lw=1.1, label=term)
                s = path.scheme
                ax.set_title(f"{path.game}: {s.name} (α = {s.lr1:g}, λ = {s.lr2:g}), h = {path.h:.3g}\n"
                             f"{CONVENTIONS.get(flow, flow)}")
                ax.set_xlabel("step n")
                ax.set_ylabel("|drift term| at z_n")
                ax.grid(True, alpha=0.25)
                ax.legend(loc="best")
        fig.tight_layout()
    return fig


def distance_figure(game: str, h: float, distances: dict[str, np.ndarray]) -> plt.Figure:
    """|z_n - z*| against n, one line per update rule (label -> distances), each with its own colour, dash
    pattern and markers (placed apart from the other lines' markers), so that lines on top of each other
    stay visible."""
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(4.4, 3.8))
        for index, ((label, values), (colour, dashes, marker)) in enumerate(zip(distances.items(), DISTANCE_STYLES,
                                                                                strict=False)):
            every = max(1, len(values) // 8)
            ax.semilogy(np.arange(len(values)), values, color=colour, ls=dashes, lw=1.3, marker=marker, ms=6,
                        markevery=(index * every // len(distances), every), label=label)
        ax.set_xlabel("step n")
        ax.set_ylabel("|z_n − z*|")
        ax.set_title(f"{game}: h = {h:g}, {len(next(iter(distances.values()))) - 1} steps")
        ax.grid(True, alpha=0.25)
        ax.legend(loc="best", handlelength=1.8, borderpad=0.3, labelspacing=0.2)
        fig.tight_layout(pad=0.4)
    return fig
