"""Error-scaling report of a set of checks, written into one folder:

- ``results.json``: the JSON contract of ``harness check --json`` (plus the environment);
- ``figures/<game>-error-<panel>.svg|png``: local error against step size, one file per panel
  (harness.figures.error_figures);
- ``figures/<game>-phase-<rule>.svg|png``: the phase plane, iterates against flows (harness.figures.phase_figures);
- ``index.md``: contents, findings in sentences (grouped by flow, measure and expected slope), one table row
  per check (not met and flagged first; reasons as numbered notes), the figures and the environment;
- ``index.html``: the same content as one self-contained page (harness.html).

Everything but the date (index.md, index.html) and the per-check ``seconds`` (results.json) is the same
for the same inputs on the same machine and checkout; SVGs are byte-stable.
"""

from __future__ import annotations

import datetime
import json
import platform
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from harness import __version__, literature, paper
from harness.catalog import catalog
from harness.checks import CheckResult, Settings, results_document
from harness.figures import error_figures, phase_figures, rule_name, save
from harness.game import Game, GameError
from harness.html import render_html, slug
from harness.precision import float64
from harness.series import Series
from harness.trajectories import trajectories

TABLE_HEADER = ("game", "update rule", "flow", "measure", "expected", "fitted", "s.e.", "fitted − expected",
                "series", "status", "fit range of h")
FLOW_NAMES = {"gradient": "the gradient flow", "modified": "the joint-convention modified flow",
              "igr": "implicit gradient regularisation (single objective)"}
MARKER_KEY = ("Per flow a colour, a marker shape and a dash pattern, with its fitted slope written at the line's "
              "end; filled markers entered the fit, hollow ones were excluded (pre-asymptotic, or an untrusted "
              "reference), crosses lie below the round-off floor; dashed grey lines have the expected slopes.")


@dataclass
class Figure:
    """One figure of the report: its SVG path relative to the report folder and what it shows."""

    game: str
    path: str
    caption: str


@dataclass
class Row:
    """One results-table row: its cells (TABLE_HEADER) and what the page filters and sorts by."""

    cells: tuple[str, ...]
    game: str
    rule: str
    flow: str
    measure: str
    status: str
    passed: bool
    deviation: float | None
    note: int | None

    def __getitem__(self, index: int) -> str:
        """A row reads as its cells."""
        return self.cells[index]


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


def measure_of(r: CheckResult) -> str:
    """"local", or "global, T = …" with the horizon the check measured at."""
    return "local" if r.spec.measure == "local" else f"{r.spec.measure}, T = {r.measurement.horizon:.3g}"


def _names(checks: list[CheckResult]) -> str:
    """The checks of a finding: every label when there are at most three, else the rules they cover."""
    if len(checks) <= 3:
        return "; ".join(r.spec.label for r in checks)
    rules = list(dict.fromkeys(r.spec.scheme.name for r in checks))
    games = len({r.spec.game for r in checks})
    return f"{games} games, rules {', '.join(rules)}"


def findings(results: list[CheckResult]) -> list[str]:
    """Sentences that summarise what was measured, computed from the results: one per flow, measure and
    expected slope (a range never spans two expectations), each naming its checks and largest deviation."""
    sentences = []
    groups: dict[tuple[str, str, float], list[tuple[float, CheckResult]]] = {}  # key -> (deviation, check)
    official: dict[tuple[bool, float], list[float]] = {}
    for r in results:
        slope, expected = r.fit.slope, r.spec.expected_slope
        if slope is None or expected is None:
            continue
        if r.spec.flow.name in FLOW_NAMES:
            groups.setdefault((r.spec.flow.name, r.spec.measure, expected), []).append((slope - expected, r))
        elif r.spec.flow.name == "official" and r.spec.measure == "local":
            official.setdefault((r.spec.scheme.lr1 == r.spec.scheme.lr2, expected), []).append(slope)
    for (flow, measure, expected), checks in sorted(groups.items(), key=lambda item: (
            list(FLOW_NAMES).index(item[0][0]), item[0][1] != "local", item[0][2])):
        slopes = [expected + deviation for deviation, _ in checks]
        worst, label = max(((d, r.spec.label) for d, r in checks), key=lambda item: abs(item[0]))
        measured = f"{len(checks)} checks measured {min(slopes):.2f} to {max(slopes):.2f}" if len(checks) > 1 \
            else f"1 check measured {slopes[0]:.2f}"
        sentences.append(f"Against {FLOW_NAMES[flow]}, {measure} error, expected slope {expected:g}: {measured} "
                         f"(largest deviation {worst:+.2f}, {label}; checks: {_names([r for _, r in checks])}).")
    if official:
        part = [f"slope {np.mean(v):.2f} (range {min(v):.2f}–{max(v):.2f}, {len(v)} checks, expected {expected:g}) "
                f"when {'lr1 = lr2' if equal else 'lr1 ≠ lr2'}"
                for (equal, expected), v in sorted(official.items(), key=lambda item: (not item[0][0], item[0][1]))]
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


def ordered(results: list[CheckResult]) -> list[CheckResult]:
    """The table's order: checks that missed their expectation, then other statuses than PASS, then the rest
    (each in the order they ran)."""
    return sorted(results, key=lambda r: (r.passed, r.fit.status == "PASS"))


def notes(results: list[CheckResult]) -> list[str]:
    """The distinct reasons of the checks expected to differ from order + 2, numbered from 1 in the table."""
    return list(dict.fromkeys(r.spec.reason for r in results if r.spec.reason))


def table_rows(results: list[CheckResult]) -> list[Row]:
    """One Row of TABLE_HEADER cells per check, in the order given (a reason is a note number, see notes)."""
    numbers = {reason: n for n, reason in enumerate(notes(results), start=1)}
    rows: list[Row] = []
    for r in results:
        fit, expected = r.fit, r.spec.expected_slope
        deviation = None if fit.slope is None or expected is None else fit.slope - expected
        span = "—" if not fit.fit_range else f"{fit.fit_range[0]:.2e} – {fit.fit_range[1]:.2e}"
        status = fit.status if r.passed else f"{fit.status} ✗ (expected {r.spec.expected_status})"
        note = numbers.get(r.spec.reason)
        cells = (r.spec.game, r.spec.scheme.label, r.spec.flow.label, measure_of(r),
                 f"{expected:g}" + (f" [{note}]" if note else ""),
                 "—" if fit.slope is None else f"{fit.slope:.3f}",
                 "—" if fit.stderr is None else f"{fit.stderr:.2g}",
                 "—" if deviation is None else f"{deviation:+.3f}", series_cell(r.series), status, span)
        rows.append(Row(cells, r.spec.game, r.spec.scheme.name, r.spec.flow.name, r.spec.measure, fit.status,
                        r.passed, deviation, note))
    return rows


def largest_deviations(rows: list[Row], count: int = 5) -> list[Row]:
    """The rows whose fitted slope is furthest from the expected one."""
    fitted = [row for row in rows if row.deviation is not None]
    return sorted(fitted, key=lambda row: -abs(row.deviation or 0.0))[:count]


def write_figures(results: list[CheckResult], games: dict[str, Game] | None, folder: Path,
                  progress: Callable[[int, int, str], None] | None = None) -> list[Figure]:
    """The error and phase-plane figures of every game in ``results``, one file per panel, written into
    ``folder`` (where figure files of earlier reports that are not rewritten are removed). Phase planes need
    the Game: from ``games`` (name -> Game), else from the catalog; a game in neither has none."""
    names = list(dict.fromkeys(r.spec.game for r in results))
    known: dict[str, Game] = games if games is not None and set(names) <= set(games) else {**catalog(), **(games or {})}
    figures, written = [], set()
    for index, name in enumerate(names, start=1):
        if progress:
            progress(index, len(names), f"figures of {name}")
        for suffix, figure in error_figures(results, name).items():
            written.update(save(figure, folder, f"{name}-error-{suffix}"))
            kind = "global error at a fixed horizon" if "global" in suffix else "local error"
            figures.append(Figure(name, f"{folder.name}/{name}-error-{suffix}.svg",
                                  f"{name}, {suffix.replace('-', ' ')}: {kind} against step size"))
        game = known.get(name)
        if game is None:
            continue
        paths = trajectories(game)
        flows = " and ".join(paths.panels[0].flows)
        for rule, figure in phase_figures(paths, game.dims).items():
            written.update(save(figure, folder, f"{name}-phase-{rule}"))
            figures.append(Figure(name, f"{folder.name}/{name}-phase-{rule}.svg",
                                  f"{name}: {rule_name(rule)} iterates against the {flows} flows, h = {paths.h:.3g}, "
                                  f"{paths.steps} steps"))
    for stale in folder.glob("*"):
        if stale.suffix in (".svg", ".png") and stale.name not in written:
            stale.unlink()
    return figures


@float64
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
    paper_section, disagreements = paper.section(names, out)  # docs/theory.md §5 measured, when its games are run
    sections = "\n".join(part for part in (paper_section, literature.section(results)) if part)
    table = ordered(results)
    rows = table_rows(table)
    content = {
        "title": "Discretization-drift report",
        "summary": f"{len(results)} checks over {len(names)} games. Local error of one update step (global "
                   f"error after T/h steps where the measure column says so) against each flow, at "
                   f"{settings.step_sizes} step sizes over {settings.decades:g} decades and {settings.points} "
                   f"initial points (seed {settings.seed}); slope tolerance ±{settings.tolerance:g}. Statuses: "
                   + ", ".join(f"{k} {v}" for k, v in document["summary"]["statuses"].items()) + ".",
        "findings": findings(results) + literature.findings(results) + disagreements,
        "header": TABLE_HEADER,
        "rows": rows,
        "notes": notes(table),
        "largest": largest_deviations(rows),
        "figures": figures,
        "marker_key": MARKER_KEY,
        "sections": sections,
        "environment": [f"date: {datetime.date.today().isoformat()}",
                        f"git commit: {env['git_commit']}",
                        f"python {env['python']} on {env['machine']}",
                        ", ".join(f"{k} {v}" for k, v in env["packages"].items()),
                        f"seed: {settings.seed}"],
    }
    _atomic_write(out / "index.md", markdown(content))
    _atomic_write(out / "index.html", render_html(content, out))
    return out / "index.md"


def markdown(content: dict) -> str:
    """index.md: summary, contents, findings, results table with its notes, figures per game, the paper and
    literature sections, environment."""
    games = list(dict.fromkeys(f.game for f in content["figures"]))
    headings = re.findall(r"^## (.+)$", content["sections"], flags=re.M)
    contents = ["Findings", "Results", "Figures", *headings, "Environment"]
    lines = [f"# {content['title']}", "", content["summary"], "",
             "Files: [results.json](results.json) (every number) · [index.html](index.html) (this report as one "
             "page).", "", "Contents: " + " · ".join(f"[{h}](#{slug(h)})" for h in contents), "",
             "## Findings", ""]
    lines += [f"- {s}" for s in content["findings"]]
    rows = content["rows"]
    lines += ["", "## Results", "", "Not met and flagged checks first. Largest |fitted − expected|: "
              + "; ".join(f"{' · '.join(row.cells[:3])} ({row.cells[3]}) {row.cells[7]}"
                          for row in content["largest"]) + ".", "",
              "| " + " | ".join(content["header"]) + " |", "|" + "---|" * len(content["header"])]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row.cells) + " |" for row in rows]
    if content["notes"]:
        lines += ["", "Notes (why a check expects another slope than order + 2):", ""]
        lines += [f"{n}. {note}" for n, note in enumerate(content["notes"], start=1)]
    lines += ["", "## Figures", "", content["marker_key"], ""]
    for game in games:
        lines += [f"### {game}", ""]
        for f in (f for f in content["figures"] if f.game == game):
            lines += [f"![{f.caption}]({f.path})", "", f"*{f.caption}* ([PNG]({f.path[:-4]}.png))", ""]
    if content["sections"]:
        lines += [content["sections"].rstrip("\n"), ""]
    lines += ["## Environment", ""] + [f"- {item}" for item in content["environment"]] + [""]
    return "\n".join(lines)


MARKER = ".harness-report"
"""The file that marks a folder ``harness report --out`` wrote (and may write again)."""
MARKER_TEXT = ("This folder was written by `harness report --out`, which may replace its files (index.md, index.html, "
               "results.json, figures/, paper/).\n")


def claim(out: Path) -> None:
    """Make ``out`` a folder ``harness report --out`` may write into: one that does not exist yet (created), an
    empty one, or one it wrote before (with its MARKER file); the marker is written there. GameError (one line)
    for a file, or a folder holding other files (they would be replaced)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GameError(f"--out {out} is a file, not a folder: give a folder for the report")
    if out.is_dir() and not (out / MARKER).is_file():
        found = sorted(p.name for p in out.iterdir())
        if found:
            shown = ", ".join(found[:3]) + (", …" if len(found) > 3 else "")
            raise GameError(f"--out {out} holds files harness report did not write ({shown}): they could be "
                            f"replaced; give a new or empty folder (a folder harness report wrote has a {MARKER} file)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not (out / MARKER).is_file():
            (out / MARKER).write_text(MARKER_TEXT)
    except OSError as exc:
        raise GameError(f"cannot write the report into {out}: {exc.strerror or exc}") from exc


def _atomic_write(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    temporary.replace(path)
