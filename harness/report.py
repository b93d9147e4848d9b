"""Error-scaling report: ``index.md`` (summary table, findings, environment), ``results.json`` (the
JSON contract of ``harness check --json``) and, per game, a log-log figure of local error against step
size (``figures/<game>.svg`` and ``.png``). SVGs are byte-stable for the same inputs."""

from __future__ import annotations

import datetime
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from harness.checks import CheckResult, Settings, results_document  # noqa: E402

plt.rcParams["svg.hashsalt"] = "discretization-drift-harness"
FLOW_COLOURS = {"gradient": "tab:blue", "modified": "tab:orange", "official": "tab:green", "igr": "tab:orange"}


def environment() -> dict:
    """Package versions, machine and git commit (stable across runs on one machine and checkout)."""
    versions = {}
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


def _plotted(results: list[CheckResult], game: str) -> dict[str, list[CheckResult]]:
    """Per scheme (m = k = 1, phi first), the checks at the learning rates with the most flows,
    preferring unequal rates (where the two conventions differ)."""
    groups: dict[tuple, list[CheckResult]] = {}
    for r in results:
        s = r.spec.scheme
        if r.spec.game == game and (s.m, s.k, s.first) == (1, 1, "phi"):
            groups.setdefault((s.name, s.lr1, s.lr2), []).append(r)
    panels: dict[str, list[CheckResult]] = {}
    ranked = sorted(groups.items(), key=lambda item: (-len({r.spec.flow.name for r in item[1]}),
                                                      item[0][1] == item[0][2]))
    for (scheme, _, _), checks in ranked:
        panels.setdefault(scheme, checks)
    return panels


def _figure(results: list[CheckResult], game: str, folder: Path) -> str | None:
    panels = _plotted(results, game)
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
    for ax, (scheme, checks) in zip(axes[0], panels.items(), strict=True):
        for r in checks:
            m, colour = r.measurement, FLOW_COLOURS[r.spec.flow.name]
            used = r.fit.used if r.fit.used is not None else np.zeros_like(m.errors, dtype=bool)
            slope = "—" if r.fit.slope is None else f"{r.fit.slope:.2f}"
            label = f"{r.spec.flow.name}: slope {slope} ({r.fit.status})"
            for p in range(m.errors.shape[0]):
                e = np.where(np.isfinite(m.errors[p]) & (m.errors[p] > 0), m.errors[p], np.nan)
                ax.loglog(m.step_sizes, e, "-", color=colour, alpha=0.35, lw=0.8)
                ax.loglog(m.step_sizes[used[p]], e[used[p]], "o", color=colour, ms=3.5, label=label if p == 0 else None)
                ax.loglog(m.step_sizes[~used[p]], e[~used[p]], "o", mfc="none", color=colour, ms=4)
            if r.fit.slope is not None and r.fit.fit_range:
                h = np.array(r.fit.fit_range)
                anchor = np.nanmedian(np.where(used, m.errors, np.nan)[:, np.searchsorted(m.step_sizes, h[1])])
                ax.loglog(h, anchor * (h / h[1]) ** r.spec.expected_slope, ":", color="k", lw=0.9)
        rates = checks[0].spec.scheme
        ax.set_title(f"{game}: {scheme} (lr1 = {rates.lr1:g}, lr2 = {rates.lr2:g})", fontsize=10)
        ax.set_xlabel("step size h")
        ax.set_ylabel("local error |update − flow|")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7, loc="lower right", title="filled: in fit · dotted: expected slope", title_fontsize=7)
    fig.tight_layout()
    folder.mkdir(parents=True, exist_ok=True)
    fig.savefig(folder / f"{game}.svg", metadata={"Date": None})
    fig.savefig(folder / f"{game}.png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return f"figures/{game}.svg"


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
    off = [r for r in results if not r.passed]
    sentences.append(f"{len(results) - len(off)} of {len(results)} checks met their expectation."
                     + ("" if not off else " Not met: " + "; ".join(r.spec.label for r in off[:10]) + "."))
    return sentences


def write_report(results: list[CheckResult], settings: Settings, out: Path) -> Path:
    """Write the report into ``out`` and return the path of ``index.md``."""
    out.mkdir(parents=True, exist_ok=True)
    env = environment()
    document = results_document(results, settings, environment=env)
    _atomic_write(out / "results.json", json.dumps(document, indent=1) + "\n")
    games = list(dict.fromkeys(r.spec.game for r in results))
    figures = {game: _figure(results, game, out / "figures") for game in games}

    lines = ["# Discretization-drift report", "",
             f"{len(results)} checks over {len(games)} games. Local error of one update step against each "
             f"flow, at {settings.step_sizes} step sizes over {settings.decades:g} decades and "
             f"{settings.points} initial points (seed {settings.seed}); slope tolerance ±{settings.tolerance:g}.",
             "", "## Findings", ""]
    lines += [f"- {s}" for s in findings(results)]
    lines += ["", "## Results", "",
              "| game | update rule | flow | expected | fitted (± s.e.) | status | fit range of h |",
              "|---|---|---|---|---|---|---|"]
    for r in results:
        fit = r.fit
        fitted = "—" if fit.slope is None else f"{fit.slope:.3f} ± {fit.stderr:.3f}"
        span = "—" if not fit.fit_range else f"{fit.fit_range[0]:.2e} – {fit.fit_range[1]:.2e}"
        status = fit.status + ("" if r.passed else " ✗")
        expected = f"{r.spec.expected_slope:g}" + (f" ({r.spec.reason})" if r.spec.reason else "")
        lines.append(f"| {r.spec.game} | {r.spec.scheme.label} | {r.spec.flow.name} | {expected} | {fitted} | "
                     f"{status} | {span} |")
    lines += ["", "## Figures", ""]
    for game, figure in figures.items():
        if figure:
            lines += [f"### {game}", "", f"![local error against step size, {game}]({figure})", ""]
    lines += ["## Environment", "",
              f"- date: {datetime.date.today().isoformat()}",
              f"- git commit: {env['git_commit']}",
              f"- python {env['python']} on {env['machine']}",
              "- " + ", ".join(f"{k} {v}" for k, v in env["packages"].items()),
              f"- seed: {settings.seed}", ""]
    _atomic_write(out / "index.md", "\n".join(lines))
    return out / "index.md"


def _atomic_write(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    temporary.replace(path)
