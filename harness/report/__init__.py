"""Error-scaling report of a set of checks, written into one folder:

- ``results.json``: the JSON contract of ``harness check --json`` (plus the environment);
- ``figures/<game>-error-<panel>.svg|png``: local error against step size, one file per panel
  (harness.report.figures.error_figures);
- ``figures/<game>-phase-<rule>.svg|png``: the phase plane, iterates against flows
  (harness.report.figures.phase_figures);
- ``index.md``: contents, findings in sentences (grouped by flow, measure and expected slope), one table row
  per check (not met and flagged first; reasons as numbered notes), the figures and the environment;
- ``index.html``: the same content as one self-contained page (harness.report.html, from a template).

The sections "The paper, checked" and "Modified flows, derived" are written from their numbers as results.json
records them (keys ``paper`` and ``derived_flows``); every section is a list of blocks (harness.report.blocks) that the
Markdown writer and the page's template both read.

Everything but the date (index.md, index.html) and the per-check ``seconds`` (results.json) is the same
for the same inputs on the same machine and checkout; SVGs are byte-stable.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime
import json
import multiprocessing
import platform
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from harness.base import cache_config, result_cache
from harness.base.errors import ResultsError, UsageError
from harness.base.figure_files import FigureWriter, Save, save
from harness.base.files import atomic_write
from harness.base.precision import float64
from harness.base.status import Status
from harness.base.version import __version__
from harness.checks import CheckResult, Settings, results_document
from harness.measure.trajectories import trajectories
from harness.model.catalog import catalog
from harness.model.game import Game
from harness.report import literature, paper
from harness.report.blocks import Block, Code, Fold, Heading, Paragraph, headings, spans, status_sentence
from harness.report.blocks import markdown as blocks_markdown
from harness.report.figures import error_figures, panel_suffix, phase_figures, plotted_checks, rule_name
from harness.report.html import render_html, slug
from harness.verdict.series import Series

TABLE_HEADER = ("game", "update rule", "flow", "measure", "expected", "fitted", "s.e.", "fitted − expected",
                "series", "status", "fit range of h")
FLOW_NAMES = {"gradient": "the gradient flow", "modified": "the joint-convention modified flow",
              "igr": "implicit gradient regularisation (single objective)"}
MARKER_KEY = ("Per flow a colour, a marker shape and a dash pattern; the legend under each panel gives the fitted "
              "slope, and \"(on FLOW)\" where a flow's errors lie on an earlier flow's (its markers then larger and "
              "hollow); filled markers entered the fit, hollow ones were excluded (pre-asymptotic, or an untrusted "
              "reference), crosses lie below the round-off floor; dashed grey lines have the expected slopes.")


@dataclass
class Figure:
    """One figure of the report: its SVG path relative to the report folder and what it shows."""

    game: str
    path: str
    caption: str
    anchor: str = ""  # the figure's id on the page
    checks: tuple[int, ...] = ()  # id() of the results it draws (error panels)


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
    index: int | None = None  # the check's position in the results (the row's id: check-INDEX)
    panel: str | None = None  # the id of the error panel that draws the check, if one does
    detail: str = ""  # for a check no panel draws: its errors against h, fit range and series, in one paragraph

    def __getitem__(self, index: int) -> str:
        """A row reads as its cells."""
        return self.cells[index]


def environment() -> dict:
    """Package versions, machine and git commit (stable across runs on one machine and checkout; no date)."""
    versions: dict[str, str | None] = {"harness": __version__}
    for package in ("jax", "jaxlib", "numpy", "scipy", "matplotlib"):
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


def flow_phrase(r: CheckResult) -> str:
    """The flow of a check in words, e.g. "the gradient flow"."""
    if literature.source_of(r) is not None:
        return "the literature's published flows (each in 'Published flows, checked')"
    name = r.spec.flow.name
    if name in FLOW_NAMES:
        return FLOW_NAMES[name]
    if name == "official":
        return "the official-code convention's modified flow"
    if name.startswith("bea:"):
        return f"the order-{name[4:]} modified field by backward error analysis"
    if name == "modified-at-step":
        return "the modified flow of a cold start's step n"
    return "the flow"


PUBLISHED = "published flows"
"""The Findings' label of the literature's flows, one group per measure and expected slope (each claim has its
row in the section "Published flows, checked")."""


def _key(r: CheckResult) -> tuple[str, str, float | None]:
    """A Findings group: the flow (its label; PUBLISHED for the literature's), the measure (local or global) and
    the expected slope."""
    label = PUBLISHED if literature.source_of(r) is not None else r.spec.flow.label
    return label, r.spec.measure, r.spec.expected_slope


def status_lines(results: list[CheckResult]) -> list[str]:
    """What missed its expectation or was flagged: the Findings' first lines."""
    off = [r for r in results if not r.passed]
    flagged = [r for r in results if r.passed and r.fit.status != Status.PASS]
    lines = []
    if off:
        lines.append(f"Not met: {len(off)} of {len(results)} checks missed their expectation (first in the "
                     "results table): " + "; ".join(
                         f"{r.spec.label} ({r.fit.status}, expected {r.spec.expected_status}"
                         f"{': ' + r.fit.reasons[-1] if r.fit.reasons else ''})" for r in off[:10])
                     + ("; …" if len(off) > 10 else "") + ".")
    else:
        lines.append(f"All {len(results)} checks met their expectation.")
    if flagged:
        counts: dict[str, int] = {}
        for r in flagged:
            counts[r.fit.status] = counts.get(r.fit.status, 0) + 1
        lines.append(f"Flagged: {len(flagged)} checks end with another status than PASS, as expected ("
                     + ", ".join(f"{k} {v}" for k, v in counts.items()) + "): " + _names(flagged) + ".")
    return lines


def findings(results: list[CheckResult]) -> list[str]:
    """Sentences computed from the results: what missed or was flagged first, then one line per flow,
    measure and expected slope covering every check (a range never spans two expectations), the official
    convention's slopes at equal and unequal rates, and the error series' diagnoses, grouped."""
    sentences = status_lines(results)
    groups: dict[tuple, list[CheckResult]] = {}
    for r in results:
        groups.setdefault(_key(r), []).append(r)
    order = list(FLOW_NAMES) + ["official"]
    for (label, measure, expected), checks in sorted(groups.items(), key=lambda item: (
            order.index(item[0][0]) if item[0][0] in order else len(order), item[0][0], item[0][1] != "local",
            item[0][2] if item[0][2] is not None else -1.0)):
        fitted = [(r.fit.slope, r) for r in checks if r.fit.slope is not None]
        head = (f"Against {flow_phrase(checks[0])} (`{label}`), {measure} error, expected slope "
                + (f"{expected:g}" if expected is not None else "none") + ": ")
        if fitted and expected is not None:
            slopes = [slope for slope, _ in fitted]
            worst, worst_check = max(((slope - expected, r) for slope, r in fitted), key=lambda item: abs(item[0]))
            measured = (f"{len(fitted)} checks measured {min(slopes):.2f} to {max(slopes):.2f}" if len(fitted) > 1
                        else f"1 check measured {slopes[0]:.2f}")
            head += f"{measured} (largest deviation {worst:+.2f}: {worst_check.spec.label})"
        elif fitted:
            head += f"{len(fitted)} checks measured {min(s for s, _ in fitted):.2f} to {max(s for s, _ in fitted):.2f}"
        unfitted = len(checks) - len(fitted)
        if unfitted:
            head += ("; " if fitted else "") + f"{unfitted} check{'s' if unfitted > 1 else ''} without a fitted slope"
        missed = sum(not r.passed for r in checks)
        sentences.append(head + (f"; {missed} not met" if missed else "") + ".")
    sentences += _official(results)
    sentences += diagnoses(results)
    return sentences


def _official(results: list[CheckResult]) -> list[str]:
    """The official-code convention's local slopes at equal and unequal rates, and what they show when the data
    shows it (slope 3 met at every equal-rate check, 2 at every unequal-rate one)."""
    official: dict[bool, list[CheckResult]] = {}
    for r in results:
        if r.spec.flow.name == "official" and r.spec.measure == "local" and r.fit.slope is not None:
            official.setdefault(r.spec.scheme.lr1 == r.spec.scheme.lr2, []).append(r)
    if not official:
        return []
    parts = []
    for equal in (True, False):
        checks = official.get(equal, [])
        if checks:
            v = [r.fit.slope for r in checks if r.fit.slope is not None]
            expected = "/".join(f"{e:g}" for e in sorted({float(r.spec.expected_slope or 0) for r in checks}))
            parts.append(f"slope {np.mean(v):.2f} (range {min(v):.2f}–{max(v):.2f}, {len(v)} checks, expected "
                         f"{expected}) when {'lr1 = lr2' if equal else 'lr1 ≠ lr2'}")
    shown = (all(r.passed and r.spec.expected_slope == 3 for r in official.get(True, []))
             and all(r.passed and r.spec.expected_slope == 2 for r in official.get(False, []))
             and len(official) == 2)
    return ["The official-code convention (own rate on the interaction term) measures " + " and ".join(parts)
            + (": it is a first-order modified flow only when the two learning rates are equal." if shown else ".")]


def series_cell(series: Series | None) -> str:
    """The diagnosis column: how far the flow agrees with the rule's modified field, and the slope it predicts."""
    if series is None or not series.available:
        return "—"
    if series.at_least:
        return f"agrees through h^{series.agrees_through} (≥ {series.predicted_slope:g})"
    return (f"agrees through h^{series.agrees_through}, differs at h^{series.differing_order} "
            f"({series.predicted_slope:g})")


def unicode_expression(expression: str) -> str:
    """A coefficient's expression in the paper's symbols: "-alpha*lambda/2" -> "−αλ/2"."""
    text = re.sub(r"\*\*(\d)|\^(\d)", lambda m: (m.group(1) or m.group(2)).translate(SUPERSCRIPTS), expression)
    text = text.replace("alpha", "α").replace("lambda", "λ").replace("*", "")
    text = re.sub(r"(?<=[αλ²³⁴]) (?=[αλ])", "", text)
    return text.replace("-", "−")


SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _coefficient(value: float | None, expression: str | None) -> str:
    return unicode_expression(expression) if expression else ("?" if value is None else f"{value:.4g}")


def diagnoses(results: list[CheckResult]) -> list[str]:
    """The error series' named terms where a flow departs from the update rule's modified field below its order,
    one line per flow and diagnosis (the same differing terms with the same coefficients) with its checks."""
    groups: dict[tuple, list[CheckResult]] = {}
    for r in results:
        series = r.series
        if series is None or series.differing_order is None or not series.terms:
            continue
        differing = tuple((t.player, t.notation or t.name, _coefficient(t.flow, t.flow_expression),
                           None if t.rule is None else _coefficient(t.rule, t.rule_expression),
                           None if t.rule is not None or t.difference is None else f"{t.difference:.3g}")
                          for t in series.terms if t.differs)
        if differing:
            groups.setdefault((r.spec.flow.label, series.differing_order, differing, series.explained), []).append(r)
    lines = []
    for (label, order, differing, explained), checks in groups.items():
        terms = "; ".join(f"{'' if player == 'x' else ('φ' if player == 'phi' else 'θ') + ' equation '}{name}: "
                          + (f"flow {flow}, rule {rule}" if rule is not None else f"flow − rule {difference}")
                          for player, name, flow, rule, difference in differing)
        note = (" (these terms explain the whole difference)" if explained else
                " (these terms leave part of the difference unexplained)" if explained is False else "")
        who = f"{len(checks)} checks" if len(checks) > 1 else "1 check"
        power = str(order).translate(SUPERSCRIPTS)
        lines.append(f"Diagnosis of {who} against `{label}` ({_names(checks)}): at h{power}, {terms}{note}.")
    return lines


def ordered(results: list[CheckResult]) -> list[CheckResult]:
    """The table's order: checks that missed their expectation, then other statuses than PASS, then the rest
    (each in the order they ran)."""
    return sorted(results, key=lambda r: (r.passed, r.fit.status == Status.PASS))


def notes(results: list[CheckResult]) -> list[str]:
    """The distinct reasons of the checks expected to differ from order + 2, numbered from 1 in the table."""
    return list(dict.fromkeys(r.spec.reason for r in results if r.spec.reason))


def table_rows(results: list[CheckResult], positions: dict[int, int] | None = None) -> list[Row]:
    """One Row of TABLE_HEADER cells per check, in the order given (a reason is a note number, see notes;
    ``positions``: id of a result -> its position in the run, the row's index)."""
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
                        r.passed, deviation, note, None if positions is None else positions.get(id(r))))
    return rows


def check_detail(r: CheckResult) -> str:
    """A check's errors against h (the largest over its initial points), its fit range and its error series, in
    one paragraph (the page shows it for a check that no figure draws)."""
    m, fit = r.measurement, r.fit
    errors = np.asarray(m.errors, dtype=float)
    worst = np.nanmax(np.where(np.isfinite(errors), errors, np.nan), axis=0) if errors.ndim == 2 else errors
    pairs = ", ".join(f"{h:.2e}: {e:.1e}" for h, e in zip(np.ravel(m.step_sizes), np.ravel(worst), strict=False))
    span = "no fit" if not fit.fit_range else f"fit over h {fit.fit_range[0]:.2e} – {fit.fit_range[1]:.2e}"
    series = "" if r.series is None else " " + " ".join(line.rstrip(".") + "." for line in r.series.lines())
    return f"Largest error over the initial points at each h (h: error): {pairs}; {span}.{series}"


def largest_deviations(rows: list[Row], count: int = 5) -> list[Row]:
    """The rows whose fitted slope is furthest from the expected one."""
    fitted = [row for row in rows if row.deviation is not None]
    return sorted(fitted, key=lambda row: -abs(row.deviation or 0.0))[:count]


def write_figures(results: list[CheckResult], games: dict[str, Game] | None, folder: Path,
                  progress: Callable[[int, int, str], None] | None = None, save: Save = save) -> list[Figure]:
    """The error and phase-plane figures of every game in ``results``, one file per panel, written into
    ``folder`` by ``save`` (where figure files of earlier reports that are not rewritten are removed). Phase planes
    need the Game: from ``games`` (name -> Game), else from the catalog; a game in neither has none."""
    names = list(dict.fromkeys(r.spec.game for r in results))
    matrix = [r for r in results if literature.source_of(r) is None]
    if matrix:  # the literature's claims beside a matrix (report --literature): their rows carry details, not panels
        results = matrix
    known: dict[str, Game] = games if games is not None and set(names) <= set(games) else {**catalog(), **(games or {})}
    figures, written = [], set()
    # the phase planes' trajectories (JAX: compiled, then run) are computed in a thread, ahead of the drawing here
    ahead = concurrent.futures.ThreadPoolExecutor(1)
    try:
        computed = {name: ahead.submit(float64(trajectories), known[name]) for name in names if name in known}
        for index, name in enumerate(names, start=1):
            if progress:
                progress(index, len(names), f"figures of {name}")
            drawn = {panel_suffix(key): checks for key, checks in plotted_checks(results, name).items()}
            for suffix, figure in error_figures(results, name).items():
                written.update(save(figure, folder, f"{name}-error-{suffix}"))
                kind = "global error at a fixed horizon" if "global" in suffix else "local error"
                figures.append(Figure(name, f"{folder.name}/{name}-error-{suffix}.svg",
                                      f"{name}, {suffix.replace('-', ' ')}: {kind} against step size",
                                      f"fig-{name}-error-{suffix}", tuple(id(r) for r in drawn.get(suffix, []))))
            if name not in computed:
                continue
            paths = computed[name].result()
            flows = " and ".join(paths.panels[0].flows)
            for rule, figure in phase_figures(paths, known[name].dims).items():
                written.update(save(figure, folder, f"{name}-phase-{rule}"))
                figures.append(Figure(name, f"{folder.name}/{name}-phase-{rule}.svg",
                                      f"{name}: {rule_name(rule)} iterates against the {flows} flows, "
                                      f"h = {paths.h:.3g}, {paths.steps} steps", f"fig-{name}-phase-{rule}"))
    finally:
        ahead.shutdown(wait=True, cancel_futures=True)
    for stale in folder.glob("*"):
        if stale.suffix in (".svg", ".png") and stale.name not in written:
            stale.unlink()
    return figures


@float64
def write_report(results: list[CheckResult], settings: Settings, out: Path, games: dict[str, Game] | None = None,
                 progress: Callable[[int, int, str], None] | None = None,
                 paper_checks: list[CheckResult] | None = None,
                 derived_flows: concurrent.futures.Future | None = None, jobs: int = 1) -> Path:
    """Write the report of ``results`` into ``out`` (``games``: name -> Game, for the phase planes; see
    ``write_figures``); return the path of ``index.md``. A report that covers paper.PAPER_GAMES (the default
    matrix does) adds the sections "The paper, checked" and "Modified flows, derived": their numbers are
    recorded in results.json (keys ``paper``, with the facts' slope checks the matrix lacks in ``checks``:
    ``paper_checks``, run with the matrix, or run here; and ``derived_flows``: ``derived_data()``, or the
    result of ``derived_in_background()`` when given), and the sections are written from that file's data alone.
    The figures' files are drawn in ``jobs`` worker processes (harness.base.figure_files.FigureWriter)."""
    out.mkdir(parents=True, exist_ok=True)
    env = environment()
    names = list(dict.fromkeys(r.spec.game for r in results))
    paper_data: dict = {}
    derived: list[dict] = []
    with FigureWriter(jobs) as writer:
        figures = write_figures(results, games, out / "figures", progress, writer.save)
        if paper.covers(names):  # docs/theory.md §5, when its games ran
            extra = paper.beside(results, settings, paper_checks)
            specs = paper.fact_specs()
            lookup = {r.spec: r for r in [*extra, *(r for r in results if r.spec in specs)]}
            paper_data = {**paper.measure(out, lookup, save=writer.save), "checks": [r.to_dict() for r in extra]}
            derived = derived_flows.result() if derived_flows is not None else derived_data()
    disagreements = paper.disagreements(paper_data.get("facts", []))
    claims = literature.claims(results)
    table = ordered(results)
    positions = {id(r): index for index, r in enumerate(results)}
    rows = table_rows(table, positions)
    panels = {check: figure.anchor for figure in figures for check in figure.checks}
    for row, r in zip(rows, table, strict=True):
        row.panel = panels.get(id(r))
        if row.panel is None:
            row.detail = check_detail(r)
    document = results_document(results, settings, environment=env)
    lines = status_lines(results)
    found = findings(results)
    content = {
        "title": "Discretization-drift report",
        "status": report_status(results, paper_data, claims, positions),
        "summary": f"{len(results)} checks over {len(names)} games. Local error of one update step (global "
                   f"error after T/h steps where the measure column says so) against each flow, at "
                   f"{settings.step_sizes} step sizes over {settings.decades:g} decades and {settings.points} "
                   f"initial points (seed {settings.seed}); slope tolerance ±{settings.tolerance:g}. Statuses: "
                   + ", ".join(f"{k} {v}" for k, v in document["summary"]["statuses"].items()) + ".",
        "findings": lines + disagreements + literature.findings(results) + found[len(lines):],
        "header": TABLE_HEADER,
        "rows": rows,
        "notes": notes(table),
        "largest": largest_deviations(rows),
        "figures": figures,
        "marker_key": MARKER_KEY,
        "environment": [f"date: {datetime.date.today().isoformat()}",
                        f"git commit: {env['git_commit']}",
                        f"python {env['python']} on {env['machine']}",
                        ", ".join(f"{k} {v}" for k, v in env["packages"].items()),
                        f"seed: {settings.seed}"],
    }
    document.update({"status": content["status"], "findings": content["findings"],
                     "published_flows": [dataclasses.asdict(c) for c in claims]})
    if paper_data:
        document["paper"] = paper_data
    if derived:
        document["derived_flows"] = derived
    text = json.dumps(document, indent=1) + "\n"
    atomic_write(out / "results.json", text)
    recorded = json.loads(text)  # the sections' numbers as results.json holds them
    content["sections"] = (paper.section_blocks(recorded.get("paper", {})) + literature.section_blocks(results)
                           + derived_blocks(recorded.get("derived_flows", [])))
    atomic_write(out / "index.md", markdown(content))
    atomic_write(out / "index.html", render_html(content, out))
    return out / "index.md"


def report_status(results: list[CheckResult], paper_data: dict, claims: list, positions: dict[int, int]) -> dict:
    """The status banner's data: met or not, the checks not met and flagged (with their row ids), the paper's
    facts refuted or corrected and the published claims not reproduced."""
    def entry(r: CheckResult) -> dict:
        return {"id": f"check-{positions[id(r)]}", "label": r.spec.label, "status": r.fit.status,
                "expected_status": r.spec.expected_status, "reason": r.fit.reasons[-1] if r.fit.reasons else ""}

    facts = paper_data.get("facts", [])
    off_facts = [f for f in facts if f["verdict"] in ("refuted", "confirmed with a correction")]
    unreproduced = [c for c in claims if not c.passed]
    failed = [entry(r) for r in results if not r.passed]
    return {"met": not failed and not any(f["verdict"] == "refuted" for f in facts) and not unreproduced,
            "checks": len(results), "failed": failed,
            "flagged": [entry(r) for r in results if r.passed and r.fit.status != Status.PASS],
            "facts": len(facts), "facts_off": [{"number": f["number"], "verdict": f["verdict"]} for f in off_facts],
            "claims": len(claims), "claims_not_reproduced": [f"{c.flow} under {c.rule}" for c in unreproduced]}


DERIVED_TITLE = "Modified flows, derived"
DERIVED_ORDER = 2
DERIVED_RULES: tuple[tuple[str, str, dict], ...] = (
    ("simultaneous GD", "simultaneous", {}),
    ("alternating GD, m = k = 1", "alternating", {}),
    ("alternating GD, m = 2, k = 3", "alternating", {"m": 2, "k": 3}),
    ("alternating GD, θ first", "alternating", {"first": "theta"}),
    ("extragradient", "extragradient", {}),
    ("proximal point", "proximal_point", {}),
    ("midpoint", "midpoint", {}),
    ("regularised (interaction terms cancelled)", "regularised", {}),
)
"""The catalog's one-step rules whose modified fields the report derives (title, rule, settings)."""
NOT_DERIVED = {"random_reshuffling": "one epoch over a finite sum E = (1/m) Σ_k C_k steps along each component's "
                                     "field in turn: its modified field is a series in the component fields, not "
                                     "in their mean f, so it is not a P-series in f and g and is not derived here"}


def derived_in_background() -> concurrent.futures.Future:
    """``derived_data()`` while the caller goes on (a report's checks run meanwhile); ``.result()`` is the list.
    Read at once when it is kept (harness.base.result_cache), else computed in a process of its own, spawned, not
    forked (JAX's threads make a fork unsafe), with the caches as the command line has them."""
    kept = result_cache.get(_derived_key(DERIVED_ORDER))
    if kept is not None:
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_result(_decoded(kept[0]))
        return future
    pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    future = pool.submit(_derived_with_caches)
    pool.shutdown(wait=False)
    return future


@float64
def _derived_with_caches() -> list[dict]:
    cache_config.enable_compilation_cache()
    return derived_data()


def derived_data(order: int = DERIVED_ORDER) -> list[dict]:
    """Each rule of DERIVED_RULES through h^order by harness.derive, as plain data (results.json, key
    derived_flows: title, formula lines, verdict and the derivation), then the rules of NOT_DERIVED; kept across
    runs as its JSON text (harness.base.result_cache: it depends on the harness's code alone)."""
    (text,) = result_cache.kept(_derived_key(order),
                                lambda: (np.frombuffer(json.dumps(_derive_all(order)).encode(), np.uint8),))
    return _decoded(text)


def _derived_key(order: int) -> str:
    return f"derived flows|{order}|{DERIVED_RULES!r}|{NOT_DERIVED!r}"


def _decoded(text: np.ndarray) -> list[dict]:
    """The derived data from its kept JSON text (UTF-8 bytes)."""
    return json.loads(text.tobytes().decode())


def _derive_all(order: int) -> list[dict]:
    from harness.verdict.derivation import derive

    data = []
    for title, rule, settings in DERIVED_RULES:
        d = derive(rule, order, **settings)
        formula = [line.replace("h^2 ", "h² ").replace("h^3 ", "h³ ") for line in d.text().splitlines()[1:-1]]
        data.append({"title": title, "rule": rule, "label": d.rule, "derivation": d.to_dict(), "verdict": d.verdict(),
                     "formula": formula})
    for rule, why in NOT_DERIVED.items():
        data.append({"title": rule, "rule": rule, "derivation": {}, "verdict": f"not a P-series in f and g: {why}",
                     "formula": []})
    return data


def derived_blocks(data: list[dict], order: int = DERIVED_ORDER) -> list[Block]:
    """The section "Modified flows, derived" from its recorded data (``derived_data``) alone: each rule's
    modified field as Unicode formulas with its verification."""
    if not data:
        return []
    blocks: list[Block] = [
        Heading(2, DERIVED_TITLE),
        Paragraph(spans(f"Each catalog one-step rule's modified field through h{str(order).translate(SUPERSCRIPTS)}, "
                        "derived by ", ("code", "harness derive"), " (docs/theory.md §9): the coefficients of the "
                        "trees (f, g the raw fields, α = lr1, λ = lr2) are identified on a random polynomial game "
                        "and confirmed on a second one; the residual is the larger relative misfit of the two. (On a "
                        "phone, tap a rule to open its field.)"))]
    for entry in data:
        d = entry["derivation"]
        if not d:
            why = NOT_DERIVED[entry["rule"]]
            blocks.append(Paragraph(spans(f"{entry['rule']}: not a P-series in f and g ({why}).")))
            continue
        numbers = any(t["expression"] is None and t["coefficient"] != 0.0 for t in d["terms"])
        mark = f"verified, residual {d['residual']:.1e}" if d["verified"] else f"not verified: {entry['verdict']}"
        blocks.append(Fold(spans(f"{entry['title']}: {mark}"), (
            Code("\n".join(entry["formula"])),
            Paragraph(spans(f"{entry['verdict']}." + (f" Coefficients without α, λ are numbers at {entry['label']}."
                                                      if numbers else ""))))))
    return blocks


def derived_flows(order: int = DERIVED_ORDER) -> tuple[str, list[dict]]:
    """The section "Modified flows, derived" in Markdown and as plain data (results.json, key derived_flows)."""
    data = derived_data(order)
    return blocks_markdown(derived_blocks(data, order)) + "\n", data


def markdown(content: dict) -> str:
    """index.md: summary, contents, findings, results table with its notes, figures per game, the paper and
    literature sections, environment."""
    games = list(dict.fromkeys(f.game for f in content["figures"]))
    contents = ["Findings", "Results", "Figures", *headings(content["sections"]), "Environment"]
    status = content["status"]
    banner = [f"**{status_sentence(status)}**", ""]
    if status["failed"]:
        banner += ["Not met (first in the results table): " + "; ".join(
            f"{f['label']} ({f['status']}, expected {f['expected_status']})" for f in status["failed"][:10])
            + ("; …" if len(status["failed"]) > 10 else "") + ".", ""]
    lines = [f"# {content['title']}", "", *banner, content["summary"], "",
             "Files: [results.json](results.json) (every number on this page) · [index.html](index.html) (this "
             "report as one page).", "", "Contents: " + " · ".join(f"[{h}](#{slug(h)})" for h in contents), "",
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
        lines += [blocks_markdown(content["sections"]), ""]
    lines += ["## Environment", ""] + [f"- {item}" for item in content["environment"]] + [""]
    return "\n".join(lines)


MARKER = ".harness-report"
"""The file that marks a folder ``harness report --out`` wrote (and may write again)."""
MARKER_TEXT = ("This folder was written by `harness report --out`, which may replace its files (index.md, index.html, "
               "results.json, figures/, paper/).\n")


def claim(out: Path) -> None:
    """Make ``out`` a folder ``harness report --out`` may write into: one that does not exist yet (created), an
    empty one, or one it wrote before (with its MARKER file); the marker is written there. UsageError (one line)
    for a file, or a folder holding other files (they would be replaced)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder: give a folder for the report")
    if out.is_dir() and not (out / MARKER).is_file():
        found = sorted(p.name for p in out.iterdir())
        if found:
            shown = ", ".join(found[:3]) + (", …" if len(found) > 3 else "")
            raise UsageError(f"--out {out} holds files harness report did not write ({shown}): they could be "
                             f"replaced; give a new or empty folder (a folder harness report wrote has a {MARKER} "
                             "file)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not (out / MARKER).is_file():
            (out / MARKER).write_text(MARKER_TEXT)
    except OSError as exc:
        raise ResultsError(f"cannot write the report into {out}: {exc.strerror or exc}") from exc

