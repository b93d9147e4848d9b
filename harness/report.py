"""Error-scaling report of a set of checks, written into one folder:

- ``results.json``: the JSON contract of ``harness check --json`` (plus the environment);
- ``figures/<game>-error.svg|png``: local error against step size (harness.figures.error_figure);
- ``figures/<game>-phase.svg|png``: the phase plane, iterates against flows (harness.figures.phase_figure);
- ``index.md``: findings in sentences, one table row per check, the figures and the environment;
- ``index.html``: the same content as one self-contained page (harness.html).

Everything but the date (index.md, index.html) and the per-check ``seconds`` (results.json) is the same
for the same inputs on the same machine and checkout; SVGs are byte-stable.
"""

from __future__ import annotations

import datetime
import json
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from harness import __version__, literature
from harness.catalog import catalog
from harness.checks import CheckResult, Settings, results_document
from harness.figures import error_figure, phase_figure, rule_name, save
from harness.game import Game
from harness.html import render_html
from harness.series import Series
from harness.trajectories import trajectories

TABLE_HEADER = ("game", "update rule", "flow", "expected", "fitted (± s.e.)", "series", "status", "fit range of h")


@dataclass
class Figure:
    """One figure of the report: its SVG path relative to the report folder and what it shows."""

    game: str
    path: str
    caption: str


def environment() -> dict:
    """Package versions, machine and git commit (stable across runs on one machine and checkout; no date)."""
    versions: dict[str, str | None] = {"harness": __version__}
    for package in ("jax", "jaxlib", "numpy", "scipy", "diffrax", "matplotlib"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                timeout=5, cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"python": platform.python_version(), "machine": f"{platform.system()} {platform.machine()}",
            "packages": versions, "git_commit": commit}


def findings(results: list[CheckResult]) -> list[str]:
    """Sentences that summarise what was measured, computed from the results."""
    sentences = []

    def slopes(select):
        return [r.fit.slope for r in results if select(r) and r.fit.slope is not None]

    for flow, text in (("gradient", "the gradient flow"), ("modified", "the joint-convention modified flow"),
                       ("igr", "implicit gradient regularisation (single objective)")):
        values = slopes(lambda r, f=flow: r.spec.flow.name == f)
        if values:
            sentences.append(f"Against {text}, {len(values)} checks measured slopes from {min(values):.2f} "
                             f"to {max(values):.2f} (expected {2 if flow == 'gradient' else 3}).")
    equal = slopes(lambda r: r.spec.flow.name == "official" and r.spec.scheme.lr1 == r.spec.scheme.lr2)
    unequal = slopes(lambda r: r.spec.flow.name == "official" and r.spec.scheme.lr1 != r.spec.scheme.lr2)
    if equal or unequal:
        part = [f"slope {np.mean(v):.2f} (range {min(v):.2f}–{max(v):.2f}, {len(v)} checks) when {cond}"
                for v, cond in ((equal, "lr1 = lr2"), (unequal, "lr1 ≠ lr2")) if v]
        sentences.append("The official-code convention (own rate on the interaction term) measures "
                         + " and ".join(part) + ": it is a first-order modified flow only when the two "
                         "learning rates are equal.")
    named = diagnoses(results)
    if named:
        sentences.append("Where a flow departs from the update rule's modified field below its order (the error "
                         "series, coefficients of the named terms in the flow and in the rule): " + " ".join(named))
    off = [r for r in results if not r.passed]
    sentences.append(f"{len(results) - len(off)} of {len(results)} checks met their expectation."
                     + ("" if not off else " Not met: " + "; ".join(
                         f"{r.spec.label} ({r.fit.status}{': ' + r.fit.reasons[-1] if r.fit.reasons else ''})"
                         for r in off[:10]) + ("; …" if len(off) > 10 else "") + "."))
    return sentences


def series_cell(series: Series | None) -> str:
    """The diagnosis column: how far the flow agrees with the rule's modified field, and the slope it predicts."""
    if series is None or not series.available:
        return "—"
    if series.at_least:
        return f"agrees through h^{series.agrees_through} (≥ {series.predicted_slope:g})"
    return (f"agrees through h^{series.agrees_through}, differs at h^{series.differing_order} "
            f"({series.predicted_slope:g})")


def diagnoses(results: list[CheckResult], limit: int = 12) -> list[str]:
    """The named terms of every check whose flow departs from the rule's modified field below its expected
    order (failing, or expected to differ), one sentence each (at most ``limit``)."""
    sentences = []
    for r in results:
        series = r.series
        if series is None or series.differing_order is None or not series.terms:
            continue
        differing = [t.describe() for t in series.terms if t.differs]
        if differing:
            sentences.append(f"{r.spec.label}: at h^{series.differing_order}, " + "; ".join(differing) + ".")
    return sentences[:limit] + ([f"… and {len(sentences) - limit} more (results.json, field series)."]
                                if len(sentences) > limit else [])


def table_rows(results: list[CheckResult]) -> list[tuple[str, ...]]:
    """One row of TABLE_HEADER cells per check."""
    rows: list[tuple[str, ...]] = []
    for r in results:
        fit = r.fit
        fitted = "—" if fit.slope is None else f"{fit.slope:.3f} ± {fit.stderr:.3f}"
        span = "—" if not fit.fit_range else f"{fit.fit_range[0]:.2e} – {fit.fit_range[1]:.2e}"
        status = fit.status if r.passed else f"{fit.status} ✗ (expected {r.spec.expected_status})"
        expected = f"{r.spec.expected_slope:g}" + (f" ({r.spec.reason})" if r.spec.reason else "")
        rows.append((r.spec.game, r.spec.scheme.label, r.spec.flow.label, expected, fitted, series_cell(r.series),
                     status, span))
    return rows


def write_figures(results: list[CheckResult], games: dict[str, Game] | None, folder: Path,
                  progress: Callable[[int, int, str], None] | None = None) -> list[Figure]:
    """The error and phase-plane figures of every game in ``results``, written into ``folder`` (where
    figure files of earlier reports that are not rewritten are removed). Phase planes need the Game:
    from ``games`` (name -> Game), else from the catalog; a game in neither has none."""
    names = list(dict.fromkeys(r.spec.game for r in results))
    known: dict[str, Game] = games if games is not None and set(names) <= set(games) else {**catalog(), **(games or {})}
    figures, written = [], set()
    for index, name in enumerate(names, start=1):
        if progress:
            progress(index, len(names), f"figures of {name}")
        figure = error_figure(results, name)
        if figure is not None:
            written.update(save(figure, folder, f"{name}-error"))
            figures.append(Figure(name, f"{folder.name}/{name}-error.svg",
                                  f"{name}: error against step size, per update rule (local; global at a fixed horizon "
                                  "in panels of their own)"))
        game = known.get(name)
        if game is None:
            continue
        paths = trajectories(game)
        written.update(save(phase_figure(paths, game.dims), folder, f"{name}-phase"))
        rules = " and ".join(rule_name(panel.scheme.name) for panel in paths.panels)
        flows = " and ".join(paths.panels[0].flows)
        figures.append(Figure(name, f"{folder.name}/{name}-phase.svg",
                              f"{name}: {rules} iterates against the {flows} flows, h = {paths.h:.3g}, "
                              f"{paths.steps} steps"))
    for stale in folder.glob("*"):
        if stale.suffix in (".svg", ".png") and stale.name not in written:
            stale.unlink()
    return figures


def write_report(results: list[CheckResult], settings: Settings, out: Path, games: dict[str, Game] | None = None,
                 progress: Callable[[int, int, str], None] | None = None) -> Path:
    """Write the report of ``results`` into ``out`` (``games``: name -> Game, for the phase planes; see
    ``write_figures``); return the path of ``index.md``."""
    out.mkdir(parents=True, exist_ok=True)
    env = environment()
    document = results_document(results, settings, environment=env)
    _atomic_write(out / "results.json", json.dumps(document, indent=1) + "\n")
    figures = write_figures(results, games, out / "figures", progress)
    names = list(dict.fromkeys(r.spec.game for r in results))
    content = {
        "title": "Discretization-drift report",
        "summary": f"{len(results)} checks over {len(names)} games. Local error of one update step (global "
                   f"error after T/h steps where marked) against each flow, at {settings.step_sizes} step sizes "
                   f"over {settings.decades:g} decades and {settings.points} initial points (seed {settings.seed}); "
                   f"slope tolerance ±{settings.tolerance:g}. Statuses: "
                   + ", ".join(f"{k} {v}" for k, v in document["summary"]["statuses"].items()) + ".",
        "findings": findings(results) + literature.findings(results),
        "header": TABLE_HEADER,
        "rows": table_rows(results),
        "passed": [r.passed for r in results],
        "figures": figures,
        "environment": [f"date: {datetime.date.today().isoformat()}",
                        f"git commit: {env['git_commit']}",
                        f"python {env['python']} on {env['machine']}",
                        ", ".join(f"{k} {v}" for k, v in env["packages"].items()),
                        f"seed: {settings.seed}"],
    }
    from harness.paper import add_section  # "The paper, checked": docs/theory.md §5 measured (when its games are run)

    index = add_section(markdown(content), names, out)
    head, marker, tail = index.rpartition("## Environment")
    index = head + (literature.section(results) + "\n" if literature.section(results) else "") + marker + tail
    starts = [i for i in (index.find("## The paper, checked"), index.find(literature.HEADING)) if i >= 0]
    sections = index[min(starts):index.rfind("## Environment")] if starts else ""
    _atomic_write(out / "index.md", index)
    _atomic_write(out / "index.html", render_html({**content, "paper": sections}, out))
    return out / "index.md"


def markdown(content: dict) -> str:
    """index.md: summary, findings, results table, figures per game, environment."""
    lines = [f"# {content['title']}", "", content["summary"], "", "## Findings", ""]
    lines += [f"- {s}" for s in content["findings"]]
    lines += ["", "## Results", "", "| " + " | ".join(content["header"]) + " |",
              "|" + "---|" * len(content["header"])]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in content["rows"]]
    lines += ["", "## Figures", ""]
    for game in dict.fromkeys(f.game for f in content["figures"]):
        lines += [f"### {game}", ""]
        for f in (f for f in content["figures"] if f.game == game):
            lines += [f"![{f.caption}]({f.path})", "", f"*{f.caption}* ([PNG]({f.path[:-4]}.png))", ""]
    lines += ["## Environment", ""] + [f"- {item}" for item in content["environment"]] + [""]
    return "\n".join(lines)


def _atomic_write(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    temporary.replace(path)
