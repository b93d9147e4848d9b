"""The report section "The paper, checked": each fact of docs/theory.md §5 with the number the harness measures.

Each ``fact_N`` function measures fact N and returns a ``Fact`` (the claim, the measured numbers in words,
pass or fail, and the raw numbers). Slopes come from ordinary checks (``SLOPE_CHECKS``: local error of one
step, or the global error at a fixed horizon for fact 6, on the nonlinear Dirac-GAN): a report runs those its
matrix lacks (``missing_specs``) with the matrix, so that they are saved, resumed and recorded like every check,
and the facts look their results up (``Checks``); stability numbers come from ``harness.measure.stability``, conserved
quantities from ``harness.measure.invariants``. ``measure`` measures everything, writes the section's figures
(stability maps, drift decomposition, regularised Dirac-GAN) and returns every number of the section as plain
data (``results.json``, key ``paper``); ``section_blocks`` writes the section from that data alone.
``write_section`` and ``section`` do both, for a report that covers PAPER_GAMES.

Each fact's statement is read from docs/theory.md §5 (``stated``), never typed here; where the repository has
no docs/theory.md the section says so and uses the harness's own one-line summary. Fact 7's formula for the
official-code convention's trace on the bilinear game is read from that statement and evaluated (``formula_value``)
to compare it with the measured trace (autodiff trace of the official flow's Jacobian): a disagreement is a
correction naming docs/theory.md §5 item 7 and both numbers, computed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from harness.base.bea import modified_field
from harness.base.compiler import jit
from harness.base.figure_files import Save, save
from harness.checks import CheckResult, CheckSpec, Settings, run_check, run_checks
from harness.flows import Flow, flow_field
from harness.measure import initial_points
from harness.measure.drift import TERMS, drift_along, drift_sizes
from harness.measure.invariants import declared, invariant_drift, iterates
from harness.measure.stability import analyse, map_grid, spectral_radii, stability_map
from harness.model.catalog import catalog
from harness.model.game import Game
from harness.report.blocks import Block, Heading, Image, Paragraph, Table, markdown, spans
from harness.report.paper_figures import distance_figure, drift_panels, stability_legend, stability_panels
from harness.rules.schemes import Scheme, update_map

TITLE = "The paper, checked"
GAME = "dirac_gan"
PAPER_GAMES = frozenset({"dirac_gan", "dirac_gan_bilinear", "rotational"})
"""The catalog games the section measures; a report includes it when it covers them."""
SETTINGS = Settings()
BILINEAR = (0.4, 1.5, 0.3)
"""(alpha, lambda, h) of fact 7 on the bilinear Dirac-GAN (c = 1)."""
ROTATIONAL_H = 0.2
INVARIANT_STEPS = 1000
REGULARISED_H, REGULARISED_STEPS = 0.2, 2000
THEORY = Path(__file__).resolve().parents[2] / "docs" / "theory.md"
"""Where the facts are stated (a clone of the repository has it; an installed package may not)."""
SOURCE = "docs/theory.md §5"


@functools.cache
def stated() -> dict[int, str]:
    """The numbered items of docs/theory.md §5, each as one line of text (empty when the file is missing)."""
    try:
        text = THEORY.read_text()
    except OSError:
        return {}
    start, end = text.find("\n## 5."), text.find("\n## 6.")
    if start < 0:
        return {}
    section = text[start:end if end > start else None]
    return {int(m.group(1)): " ".join(m.group(2).split())
            for m in re.finditer(r"^(\d+)\. (.+?)(?=^\d+\. |^#|\Z)", section, flags=re.M | re.S)}


def _claim(number: int, summary: str) -> tuple[str, str]:
    """(statement, source): fact ``number`` as docs/theory.md §5 states it, or the harness's ``summary`` of it
    when that file is missing."""
    text = stated().get(number)
    return (text, SOURCE) if text else (summary, "")


_GREEK = {"α": "alpha", "λ": "lam", "ε": "eps", "φ": "phi", "θ": "theta", "β": "beta", "μ": "mu"}
_POWERS = {"²": "**2", "³": "**3"}


def formula_value(formula: str, **values: float) -> float | None:
    """The value of a formula written as in docs/theory.md (Unicode, one letter per symbol, implicit products:
    "(h/2)c²(α − λ)²", "−2ε + h − hε²") at ``values`` (alpha, lam, eps, h, c, ...); None when it is not a plain
    arithmetic expression of those symbols."""
    import sympy

    greek = "".join(_GREEK)
    tokens = re.findall(rf"\d+(?:\.\d+)?|[A-Za-z]|[{greek}]|[²³]|[−+*/·()-]|\s+|.", formula)
    text, previous = "", ""
    for token in tokens:
        if token.isspace():
            continue
        if not (re.fullmatch(r"\d+(?:\.\d+)?|[A-Za-z]", token) or token in _GREEK or token in _POWERS
                or token in "−+*/·()-"):
            return None
        operand = re.fullmatch(r"\d+(?:\.\d+)?|[A-Za-z]", token) or token in _GREEK or token == "("
        if operand and (re.fullmatch(r"\d+(?:\.\d+)?|[A-Za-z]", previous) or previous in _GREEK
                        or previous in _POWERS or previous == ")"):
            text += "*"
        text += _GREEK.get(token, _POWERS.get(token, {"−": "-", "·": "*"}.get(token, token)))
        previous = token
    symbols = {name: sympy.Symbol(name) for name in values}
    try:
        expression = sympy.sympify(text, locals=symbols)
        return float(expression.subs({symbols[k]: v for k, v in values.items()}))
    except (SyntaxError, TypeError, ValueError, sympy.SympifyError):
        return None


def stated_official_trace() -> str | None:
    """The formula docs/theory.md §5 item 7 gives for the official convention's trace on the bilinear game."""
    match = re.search(r"official convention's(?: \([^)]*\))? is (.+?)(?: [≥≤<>=]|,|;|$)", stated().get(7, ""))
    return match.group(1).strip() if match else None


@dataclass
class Fact:
    """One fact of docs/theory.md §5: the claim, what was measured (one phrase per number), pass or fail
    (None: not measured), the raw numbers, and the correction when the stated claim disagrees with what is
    measured (the fact passes with the corrected value)."""

    number: int
    claim: str
    measured: list[str]
    passed: bool | None
    values: dict = field(default_factory=dict)
    correction: str = ""
    source: str = ""  # where the claim is read from (SOURCE), or "" for the harness's own summary
    checks: list[dict] = field(default_factory=list)  # the slope checks measured: label, rates, slope, status

    def to_dict(self) -> dict:
        """The fact as plain data (results.json, key paper.facts)."""
        return {"number": self.number, "claim": self.claim, "source": self.source or None,
                "measured": self.measured, "verdict": self.verdict, "passed": self.passed,
                "correction": self.correction or None, "values": self.values, "checks": self.checks}

    @property
    def verdict(self) -> str:
        """"confirmed", "confirmed with a correction", "refuted" or "not measured"."""
        if self.passed is None:
            return "not measured"
        return ("confirmed with a correction" if self.correction else "confirmed") if self.passed else "refuted"


@functools.cache
def _games() -> dict[str, Game]:
    return catalog()


def _spec(scheme: Scheme, flow: str, expected: float | None = None, game: str = GAME, measure: str = "local",
          reason: str = "") -> CheckSpec:
    return CheckSpec(game, scheme, Flow(flow), expected, reason=reason, measure=measure)


OFFICIAL = ("the official-code convention puts each player's own rate on the interaction term, an O(h^2) error when "
            "lr1 != lr2")
OWN_RATE = ("the official-convention update leaves (lambda - alpha) times the interaction terms, which the "
            "self-terms-only flow lacks: an O(h^2) error when lr1 != lr2")
"""The reasons of the default matrix's entries (harness/checks/check_matrix.toml) for the facts' checks expected
at slope 2, so that the facts find their results there."""


_OWN_RATE = Scheme("regularised", 1.0, 0.3, convention="official")
SLOPE_CHECKS: dict[int, dict[str, CheckSpec]] = {
    1: {"simultaneous (α 0.4, λ 1.5)": _spec(Scheme("simultaneous", 0.4, 1.5), "gradient"),
        "alternating (α 0.4, λ 1.5)": _spec(Scheme("alternating", 0.4, 1.5), "gradient")},
    2: {"simultaneous (α 0.4, λ 1.5)": _spec(Scheme("simultaneous", 0.4, 1.5), "modified"),
        "alternating (α 0.4, λ 1.5, m 2, k 3)": _spec(Scheme("alternating", 0.4, 1.5, 2, 3), "modified"),
        "alternating θ first (α 1, λ 0.3)": _spec(Scheme("alternating", 1.0, 0.3, first="theta"), "modified")},
    3: {label: spec for name in ("simultaneous", "alternating") for label, spec in (
        (f"{name} (α = λ = 1)", _spec(Scheme(name, 1.0, 1.0), "official")),
        (f"{name} (α 1, λ 0.3)", _spec(Scheme(name, 1.0, 0.3), "official", expected=2.0, reason=OFFICIAL)))},
    5: {"simultaneous (α 1, λ 0.3) vs. bea:2": _spec(Scheme("simultaneous", 1.0, 0.3), "bea:2")},
    6: {f"{name} vs. {flow} (α 1, λ 0.3)": _spec(Scheme(name, 1.0, 0.3), flow, measure="global")
        for name in ("simultaneous", "alternating") for flow in ("gradient", "modified")},
    9: {"cancelled (α 1, λ 0.3)": _spec(Scheme("regularised", 1.0, 0.3), "modified"),
        "cancelled (α 0.4, λ 1.5)": _spec(Scheme("regularised", 0.4, 1.5), "modified"),
        "cancelled, self terms ×2 (α 0.4, λ 1.5)": _spec(Scheme("regularised", 0.4, 1.5, strengthen=1.0), "modified"),
        "own-rate coefficient, α = λ = 1, vs. self terms only": _spec(replace(_OWN_RATE, lr2=1.0), "official"),
        "own-rate coefficient, α 1, λ 0.3, vs. self terms only": _spec(_OWN_RATE, "official", expected=2.0,
                                                                      reason=OWN_RATE),
        "own-rate coefficient, α 1, λ 0.3, vs. its own flow (interaction left (λ − α))": _spec(_OWN_RATE, "modified")},
    10: {"extragradient (α 1, λ 0.3)": _spec(Scheme("extragradient", 1.0, 0.3), "modified"),
         "OGDA (α 1, λ 0.3)": _spec(Scheme("ogda", 1.0, 0.3), "modified"),
         "heavy ball β 0.5 (α 1, λ 0.3)": _spec(Scheme("heavy_ball", 1.0, 0.3, beta=0.5), "modified")},
}
"""The slope checks of the facts (number -> label -> check): ordinary checks, run with the report's matrix
(``fact_specs``) and recorded in its results document."""

Checks = Mapping[CheckSpec, CheckResult]
"""The results of a run by check, where the facts' slope checks are looked up."""


def fact_specs() -> list[CheckSpec]:
    """The slope checks of every fact, each once, in the order of the facts."""
    return list(dict.fromkeys(spec for checks in SLOPE_CHECKS.values() for spec in checks.values()))


def missing_specs(specs: list[CheckSpec]) -> list[CheckSpec]:
    """The facts' slope checks that are not among ``specs`` (a matrix): those a report runs beside it."""
    return [spec for spec in fact_specs() if spec not in specs]


def beside(results: list[CheckResult], settings: Settings, ran: list[CheckResult] | None = None) -> list[CheckResult]:
    """The results of the facts' slope checks that ``results`` (a report's matrix) lacks, in the order of
    ``fact_specs``: from ``ran`` (run with the matrix) where there, the others run now over the catalog games."""
    missing = missing_specs([r.spec for r in results])
    known = [r for r in ran or [] if r.spec in missing]
    rest = [spec for spec in missing if spec not in [r.spec for r in known]]
    found = known + run_checks(rest, _games(), settings)
    return [next(r for r in found if r.spec == spec) for spec in missing]


def _checks(number: int, checks: Checks | None) -> dict[str, CheckResult]:
    """Fact ``number``'s slope checks by label: their results in ``checks``, the others run here (SETTINGS)."""
    known = checks or {}
    return {label: known[spec] if spec in known else run_check(_games()[spec.game], spec, SETTINGS)
            for label, spec in SLOPE_CHECKS[number].items()}


def _slopes(checks: dict[str, CheckResult]) -> tuple[list[str], bool, dict]:
    """Phrases "label: slope s (expected e)", whether all passed, and the slopes."""
    phrases, values = [], {}
    for label, r in checks.items():
        slope = "no fit" if r.fit.slope is None else f"{r.fit.slope:.3f}"
        phrases.append(f"{label}: slope {slope} (expected {r.spec.expected_slope:g}, {r.fit.status})")
        values[label] = r.fit.slope
    return phrases, all(r.passed for r in checks.values()), values


def _records(checks: dict[str, CheckResult]) -> list[dict]:
    """The slope checks of a fact as plain data."""
    return [{"label": label, "game": r.spec.game, "rule": r.spec.scheme.name, "alpha": r.spec.scheme.lr1,
             "lambda": r.spec.scheme.lr2, "flow": r.spec.flow.label, "measure": r.spec.measure,
             "expected_slope": r.spec.expected_slope, "fitted_slope": r.fit.slope, "status": r.fit.status,
             "passed": r.passed} for label, r in checks.items()]


def _slope_fact(number: int, summary: str, results: Checks | None) -> Fact:
    checks = _checks(number, results)
    phrases, passed, values = _slopes(checks)
    claim, source = _claim(number, summary)
    return Fact(number, claim, phrases, passed, values, source=source, checks=_records(checks))


def fact_1(checks: Checks | None = None) -> Fact:
    """Simultaneous and alternating GD against the gradient flow: slope 2 (``checks``: see ``_checks``)."""
    return _slope_fact(1, "Simultaneous and alternating GD vs. the gradient flow: slope 2.", checks)


def fact_2(checks: Checks | None = None) -> Fact:
    """Both against the joint-convention first-order modified flow: slope 3 for any alpha, lambda, m, k."""
    return _slope_fact(2, "Both vs. the joint-convention first-order modified flow: slope 3, any α, λ, m, k.", checks)


def fact_3(checks: Checks | None = None) -> Fact:
    """The official-code convention: slope 3 iff alpha = lambda, slope 2 otherwise."""
    return _slope_fact(3, "Official-code convention: slope 3 iff α = λ, slope 2 otherwise.", checks)


def fact_4(checks: Checks | None = None) -> Fact:
    """The phi equation of the modified flow is the same for simultaneous and alternating GD (phi first):
    max over initial points of |phi'_sim - phi'_alt| / |phi'_sim| (and the same for theta, which differs)."""
    gaps: dict[tuple[str, str], float] = {}
    for name in (GAME, "nonconvex_nonconcave"):
        game = _games()[name]
        a, h = game.dims[0], 0.1
        fields = [flow_field(game, Flow("modified"), Scheme(s, 0.4, 1.5)) for s in ("simultaneous", "alternating")]
        for z in initial_points(game, SETTINGS.points, SETTINGS.seed):
            sim, alt = (np.asarray(f(jnp.asarray(z), h)) for f in fields)
            for part, cut in (("φ", slice(0, a)), ("θ", slice(a, None))):
                gap = np.linalg.norm(sim[cut] - alt[cut]) / np.linalg.norm(sim[cut])
                gaps[(name, part)] = max(gaps.get((name, part), 0.0), float(gap))
    phi = max(v for (_, part), v in gaps.items() if part == "φ")
    theta = min(v for (_, part), v in gaps.items() if part == "θ")
    claim, source = _claim(4, "The φ equation is the same for simultaneous and alternating (φ first).")
    return Fact(4, claim,
                [f"max relative gap of the φ equations {phi:.1e} (dirac_gan, nonconvex_nonconcave, "
                 f"{SETTINGS.points} points, α 0.4, λ 1.5, h 0.1)", f"θ equations differ: smallest gap {theta:.2f}"],
                phi <= 1e-14 and theta > 1e-3, {"phi_gap": phi, "theta_gap": theta, "points": float(SETTINGS.points),
                                                 "alpha": 0.4, "lambda": 1.5, "h": 0.1}, source=source)


def euler_second_order_field(game: Game, alpha: float, lam: float):
    """docs/theory.md §3: F - (h/2) F'F + h^2 (F''(F, F)/12 + F'F'F/3) for F = (alpha f, lambda g), by JVPs."""
    a, b = game.dims
    rates = jnp.concatenate([jnp.full(a, alpha), jnp.full(b, lam)])

    def F(z):
        return rates * game.field(z)

    def field(z, h):
        v = F(z)
        dF = lambda x, t: jax.jvp(F, (x,), (t,))[1]  # noqa: E731
        second = jax.jvp(lambda x: dF(x, v), (z,), (v,))[1]
        return v - 0.5 * h * dF(z, v) + h**2 * (second / 12 + dF(z, dF(z, v)) / 3)

    return field


def fact_5(checks: Checks | None = None) -> Fact:
    """Simultaneous GD against the second-order Euler field: slope 4 (measured with bea:2, which is checked
    against the closed form of docs/theory.md §3 at the initial points)."""
    game, scheme, h = _games()[GAME], Scheme("simultaneous", 1.0, 0.3), 0.1
    # compiled, not run op by op: evaluated eagerly, Taylor mode dispatched (and compiled) each operation alone
    closed = jit(jax.vmap(euler_second_order_field(game, scheme.lr1, scheme.lr2), (0, None)))
    automatic = jit(jax.vmap(modified_field(update_map(game, scheme.structure), 2), (0, None, None)))
    points = jnp.asarray(initial_points(game, SETTINGS.points, SETTINGS.seed))
    expected = closed(points, h)
    gap = float(np.max(np.linalg.norm(automatic(points, h, scheme.params) - expected, axis=1)
                       / np.linalg.norm(expected, axis=1)))
    check = _checks(5, checks)
    phrases, passed, values = _slopes(check)
    phrases.append(f"bea:2 = F − (h/2)F′F + h²(F″(F,F)/12 + F′F′F/3) to {gap:.1e} (relative, h 0.1)")
    claim, source = _claim(5, "Simultaneous GD vs. the second-order Euler field: slope 4.")
    return Fact(5, claim, phrases, passed and gap <= 1e-12, {**values, "closed_form_gap": gap, "h": h}, source=source,
                checks=_records(check))


def fact_6(checks: Checks | None = None) -> Fact:
    """The global error at a fixed horizon: slope 1 against the gradient flow, 2 against the modified flow."""
    return _slope_fact(6, "Global error at fixed T: slope 1 vs. the gradient flow, 2 vs. the first-order "
                       "modified flow.", checks)


def fact_7(checks: Checks | None = None) -> Fact:
    """Bilinear E = c phi theta (c = 1): simultaneous GD's spectral radius sqrt(1 + alpha lambda h^2 c^2) > 1 for
    every h; alternating GD has det M = 1, conserves Q and cycles while alpha lambda h^2 c^2 < 4; the joint
    modified flow of alternating GD has trace 0; the official one's trace is compared with the formula that
    docs/theory.md §5 item 7 states (read and evaluated there), and is positive (it predicts divergence) where
    the iterates cycle."""
    game, (alpha, lam, h) = _games()["dirac_gan_bilinear"], BILINEAR
    c = float(jit(jax.jacfwd(game.field))(jnp.zeros(2))[1, 0])  # g = c phi
    steps = np.geomspace(0.01, 4.0, 40) / np.sqrt(alpha * lam) / c  # alpha lambda h^2 c^2 from 1e-4 to 16
    sim = spectral_radii(game, Scheme("simultaneous", alpha, lam), steps)
    sim_gap = float(np.max(np.abs(sim - np.sqrt(1 + alpha * lam * steps**2 * c**2))))
    alt = spectral_radii(game, Scheme("alternating", alpha, lam), steps)
    inside = alpha * lam * steps**2 * c**2 < 4
    cycle_gap = float(np.max(np.abs(alt[inside] - 1)))
    outside = float(np.min(alt[~inside] - 1))
    result = analyse(game, Scheme("alternating", alpha, lam), h)
    joint, official = result.flows["modified"].trace, result.flows["official"].trace
    drift = invariant_drift(game, "Q", Scheme("alternating", alpha, lam), h, INVARIANT_STEPS, flows=())
    q = drift.iterates / abs(drift.initial)
    claim, source = _claim(7, "Bilinear E = cφθ: simultaneous ρ = √(1 + αλh²c²) > 1 for every h; alternating "
                           "det M = 1, conserves Q = φ²/α + θ²/λ − hcφθ, cycles while αλh²c² < 4; joint modified "
                           "flow trace 0; the official convention's trace is positive where the iterates cycle.")
    formula = stated_official_trace() if source else None
    value = None if formula is None else formula_value(formula, alpha=alpha, lam=lam, h=h, c=c)
    agrees = value is not None and abs(official - value) <= 1e-13 * max(abs(value), 1e-300)
    cycles = cycle_gap <= 1e-13
    sign = (("> 0: predicts divergence" if official > 0 else "≤ 0: does not predict divergence")
            + (" where the iterates cycle" if cycles else ""))
    if value is None:
        comparison = (f"official {official:.6f} ({sign}); "
                      + ("no formula for it read from " + SOURCE if source else f"{SOURCE} not found: not compared"))
    else:
        comparison = (f"official {official:.6f} ({sign}); {formula} as "
                      f"{SOURCE} item 7 states it = {value:.6f} at α {alpha:g}, λ {lam:g}, h {h:g}, c {c:g}")
    passed = (sim.min() > 1 and sim_gap <= 1e-14 and abs(result.determinant - 1) <= 1e-14 and cycles
              and outside > 0 and abs(joint) <= 1e-15 and official > 0 and q <= 1e-13)
    correction = ""
    if value is not None and not agrees:
        correction = (f"{SOURCE} item 7 states the official convention's trace as {formula}, which is {value:.6f} at "
                      f"α {alpha:g}, λ {lam:g}, h {h:g}, c {c:g}; the trace of the official flow's Jacobian measured "
                      f"there is {official:.6f}")
    return Fact(7, claim, [
                    f"simultaneous ρ ≥ {sim.min():.6f} > 1 at 40 step sizes (αλh²c² 1e-4 … 16), "
                    f"|ρ − √(1 + αλh²c²)| ≤ {sim_gap:.1e}",
                    f"alternating det M = {result.determinant:.15f}, |ρ − 1| ≤ {cycle_gap:.1e} where αλh²c² < 4, "
                    f"ρ − 1 ≥ {outside:.3f} beyond",
                    f"Q drift over {INVARIANT_STEPS} alternating steps: {q:.1e} of |Q₀| (α {alpha:g}, λ {lam:g}, "
                    f"h {h:g})",
                    f"trace of the joint modified flow {joint:.1e}; {comparison}",
                ], passed, {"sim_min_radius": float(sim.min()), "sim_gap": sim_gap,
                            "determinant": result.determinant, "cycle_gap": cycle_gap, "outside_gap": outside,
                            "q_drift": q, "joint_trace": joint, "official_trace": official,
                            "official_trace_stated": value, "alpha": alpha, "lambda": lam, "h": h, "c": c,
                            "step_sizes": float(len(steps)), "alpha_lambda_h2c2_low": 1e-4,
                            "alpha_lambda_h2c2_high": 16.0},
                correction=correction, source=source)


def fact_8(checks: Checks | None = None) -> Fact:
    """Rotational game (eps = 0.09, alpha = lambda = 1, h = 0.2): simultaneous GD diverges (rho ~ 1.0022),
    alternating converges (rho ~ 0.982); the modified flows' traces -2 eps + h - h eps^2 > 0 and
    -2 eps - h eps^2 < 0 predict both."""
    game, h = _games()["rotational"], ROTATIONAL_H
    eps = 0.09
    sim = analyse(game, Scheme("simultaneous"), h)
    alt = analyse(game, Scheme("alternating"), h)
    t_sim, t_alt = sim.flows["modified"].trace, alt.flows["modified"].trace
    e_sim, e_alt = -2 * eps + h - h * eps**2, -2 * eps - h * eps**2
    passed = (abs(sim.radius - 1.0022) < 5e-5 and abs(alt.radius - 0.982) < 5e-4 and sim.behaviour == "diverges"
              and alt.behaviour == "converges" and abs(t_sim - e_sim) <= 1e-14 and abs(t_alt - e_alt) <= 1e-14
              and sim.flows["modified"].prediction == "diverges" and alt.flows["modified"].prediction == "converges")
    claim, source = _claim(8, "Rotational game, ε = 0.09, α = λ = 1, h = 0.2: simultaneous diverges (ρ ≈ 1.0022), "
                           "alternating converges (≈ 0.982); modified-flow traces −2ε + h − hε² > 0 and −2ε − hε² < 0.")
    return Fact(8, claim, [
                    f"simultaneous ρ = {sim.radius:.6f} ({sim.behaviour}), alternating ρ = {alt.radius:.6f} "
                    f"({alt.behaviour})",
                    f"modified-flow traces {t_sim:.5f} (formula {e_sim:.5f}) and {t_alt:.5f} (formula {e_alt:.5f}); "
                    f"gradient flow {sim.flows['gradient'].trace:.2f} (predicts convergence for both)",
                ], passed, {"sim_radius": sim.radius, "alt_radius": alt.radius, "sim_trace": t_sim, "alt_trace": t_alt,
                            "sim_trace_formula": e_sim, "alt_trace_formula": e_alt,
                            "gradient_trace": sim.flows["gradient"].trace}, source=source)


def fact_9(checks: Checks | None = None) -> Fact:
    """Explicit regularisation: the update that cancels the interaction terms follows the self-terms-only flow
    (slope 3 for any alpha, lambda; also with the self terms strengthened); with the official code's
    coefficient (own rate) the interaction terms cancel only when alpha = lambda (slope 2 against the
    self-terms-only flow otherwise)."""
    return _slope_fact(9, "Regularised update (interaction terms cancelled) vs. its self-terms-only flow: slope 3 "
                       "for any α, λ; the official code's coefficient cancels exactly only when α = λ.", checks)


def fact_10(checks: Checks | None = None) -> Fact:
    """Extragradient, OGDA and heavy ball against their closed-form first-order fields: slope 3."""
    return _slope_fact(10, "Extragradient, OGDA, heavy ball vs. the fields in §3: slope 3.", checks)


FACTS = (fact_1, fact_2, fact_3, fact_4, fact_5, fact_6, fact_7, fact_8, fact_9, fact_10)


def facts(checks: Checks | None = None) -> list[Fact]:
    """Every fact of docs/theory.md §5, measured (the slope checks looked up in ``checks``, see ``_checks``)."""
    return [fact(checks) for fact in FACTS]


# --- the measurements beyond the slope checks: stability, invariants, drift, regularisers -----------------

def _stability(folder: Path, data: dict, save: Save) -> None:
    """Stability maps of the iterates and of each flow over (αh, λh), their figures and agreement shares."""
    shares: dict[str, dict] = data.setdefault("stability", {})
    for name in ("dirac_gan", "rotational"):
        game = _games()[name]
        grid = map_grid(game, count=48)
        maps = [stability_map(game, Scheme(rule), grid, grid) for rule in ("simultaneous", "alternating")]
        panels = []
        for key, figure in stability_panels(maps).items():
            save(figure, folder, f"{name}-stability-{key}")
            panels.append(key)
        shares[name] = {"grid": len(grid), "agreement_percent": {
            m.scheme.name: {flow: 100 * m.agreement(flow) for flow in m.flows} for m in maps}, "panels": panels}


def _invariants(data: dict) -> None:
    """The drift of every invariant that a catalog game declares, under alternating GD (INVARIANT_STEPS steps)
    and simultaneous GD (100 steps: it diverges on the bilinear game), at the rates and step size of fact 7."""
    alpha, lam, h = BILINEAR
    rows: list[dict] = data.setdefault("invariants", [])
    for name, game in _games().items():
        for invariant in declared(game):
            for rule, steps in (("alternating", INVARIANT_STEPS), ("simultaneous", 100)):
                d = invariant_drift(game, invariant, Scheme(rule, alpha, lam), h, steps)
                rows.append({"game": name, "invariant": invariant, "rule": rule, "steps": steps, "alpha": alpha,
                             "lambda": lam, "h": h, "initial": d.initial, "iterates": d.iterates,
                             "gradient_flow": d.flows["gradient"], "modified_flow": d.flows["modified"]})


DRIFT_H, DRIFT_STEPS = 0.2, 300


def _drift(folder: Path, data: dict, save: Save) -> None:
    """The first-order drift terms' sizes at the default state and their figures along the iterates."""
    game, h = _games()[GAME], DRIFT_H
    paths, rows = [], data.setdefault("drift", [])
    for rule in ("simultaneous", "alternating"):
        scheme = Scheme(rule, 1.0, 0.3)
        for flow, convention in (("modified", "joint"), ("official", "official code")):
            sizes = drift_sizes(game, Flow(flow), scheme, game.z0, h)
            rows.append({"game": GAME, "rule": rule, "convention": convention, "alpha": 1.0, "lambda": 0.3, "h": h,
                         "steps": DRIFT_STEPS, "sizes": {t: float(sizes[t]) for t in TERMS}})
        paths.append(drift_along(game, scheme, iterates(game, scheme, h, DRIFT_STEPS), h))
    data["drift_panels"] = []
    for key, figure in drift_panels(paths).items():
        save(figure, folder, f"{GAME}-drift-{key}")
        data["drift_panels"].append(key)


def _regularisers(folder: Path, data: dict, save: Save) -> None:
    """Distance to the equilibrium of plain and explicitly regularised simultaneous GD, and its figure."""
    game, h, steps = _games()[GAME], REGULARISED_H, REGULARISED_STEPS
    rules = {"simultaneous GD": Scheme("simultaneous"), "regularised (interaction cancelled)": Scheme("regularised"),
             "regularised, self terms ×2": Scheme("regularised", strengthen=1.0),
             "alternating GD": Scheme("alternating")}
    star = np.asarray(game.metadata["equilibrium"])
    distances = {label: np.linalg.norm(iterates(game, s, h, steps) - star, axis=1) for label, s in rules.items()}
    save(distance_figure(GAME, h, distances), folder, f"{GAME}-regularisers")
    data["regularisers"] = {"game": GAME, "h": h, "steps": steps, "alpha": 1.0, "lambda": 1.0,
                            "final_distance": {label: float(d[-1]) for label, d in distances.items()}}


def measure(out: Path, checks: Checks | None = None, folder: str = "paper", save: Save = save) -> dict:
    """Measure every fact (its slope checks looked up in ``checks``, see ``_checks``), the stability maps, the
    invariants' drift, the drift terms and the regularisers; write their figures into ``out / folder``; return
    every number the section shows as plain data (results.json, key ``paper``: ``section_blocks`` reads it).
    ``save`` writes a figure's files (harness.base.figure_files: ``save``, or a ``FigureWriter``'s)."""
    target = Path(out) / folder
    measured = facts(checks)
    read = all(f.source for f in measured)
    data: dict = {"source": SOURCE if read else None, "facts": [f.to_dict() for f in measured],
                  "counts": {v: sum(f.verdict == v for f in measured) for v in RESULT_WORDS}, "folder": folder}
    _stability(target, data, save)
    _invariants(data)
    _drift(target, data, save)
    _regularisers(target, data, save)
    return data


# --- the section, from the recorded data alone ----------------------------------------------------------

RESULT_WORDS = {"confirmed": "PASS", "confirmed with a correction": "PASS with a correction ⚠", "refuted": "FAIL ✗",
                "not measured": "not measured"}


def _facts_blocks(data: dict) -> list[Block]:
    measured, counts, read = data["facts"], data["counts"], data["source"] is not None
    where = ("quoted from that file" if read else
             f"as the harness summarises it ({SOURCE} was not found: the statements are not read from it)")
    intro = (f"Each fact of {SOURCE}, {where}, with what the harness measures: of {len(measured)}, "
             + ", ".join(f"{n} {v}" for v, n in counts.items() if n or v != "not measured") + ".")
    table = Table(("#", f"fact ({SOURCE if read else 'summary'})", "measured", "result"),
                  tuple((str(f["number"]), f["claim"], "; ".join(f["measured"]), RESULT_WORDS[f["verdict"]])
                        for f in measured))
    corrections = [Paragraph(spans(("strong", f"Fact {f['number']}, corrected."),
                                   f" {f['correction'][0].upper()}{f['correction'][1:]}."))
                   for f in measured if f["correction"]]
    return [Heading(2, TITLE), Paragraph(spans(intro)), table, *corrections]


def _stability_blocks(data: dict, folder: str) -> list[Block]:
    blocks: list[Block] = [
        Heading(3, "Stability at the equilibrium"),
        Paragraph(spans("Per update rule, where its iterates near the equilibrium converge (ρ(M) < 1), cycle (ρ = 1) "
                        "or diverge (ρ > 1) over (αh, λh), and what each flow's Jacobian predicts there (max Re eig "
                        "< 0, = 0, > 0)."))]
    for name, shares in data["stability"].items():
        agreement = "; ".join(f"{rule}: " + ", ".join(f"{flow} {percent:.0f}%" for flow, percent in flows.items())
                              for rule, flows in shares["agreement_percent"].items())
        blocks += [Image(f"{folder}/{name}-stability-{key}.svg", f"{name}: {key}") for key in shares["panels"]]
        blocks.append(Paragraph(spans(("em", f"{name}: stability maps ({stability_legend()}); share of the grid where "
                                             f"each flow predicts the iterates: {agreement}"))))
    return blocks


def _invariants_blocks(data: dict) -> list[Block]:
    rows = data["invariants"]
    alpha, lam, h = BILINEAR
    table = Table(("game", "invariant", "update rule", "steps", "Q₀", "iterates", "gradient flow", "modified flow"),
                  tuple((r["game"], r["invariant"], r["rule"], str(r["steps"]), f"{r['initial']:.4g}",
                         f"{r['iterates']:.2e}", f"{r['gradient_flow']:.2e}", f"{r['modified_flow']:.2e}")
                        for r in rows))
    sentences = []
    for row in rows:
        if row["rule"] != "alternating":
            continue
        scale = 1e-12 * abs(row["initial"])
        conserved = [what for what, key in (("the iterates", "iterates"), ("the modified flow", "modified_flow"),
                                            ("the gradient flow", "gradient_flow")) if row[key] <= scale]
        others = [w for w in ("the iterates", "the modified flow", "the gradient flow") if w not in conserved]
        if conserved:
            sentences.append(f"On {row['game']} under alternating GD, {' and '.join(conserved)} "
                             f"{'conserve' if len(conserved) > 1 else 'conserves'} {row['invariant']} to within "
                             f"10⁻¹² of |{row['invariant']}₀| over {row['steps']} steps"
                             + (f"; {' and '.join(others)} {'do' if len(others) > 1 else 'does'} not." if others
                                else "."))
    return [Heading(3, "Conserved quantities"),
            Paragraph(spans(f"Invariants the catalog games declare (α {alpha:g}, λ {lam:g}, h {h:g}): largest "
                            "|Q(z_n) − Q(z_0)| along the iterates and along each flow sampled at the times nh.")),
            table, *([Paragraph(spans("\n".join(sentences)))] if sentences else [])]


def _drift_blocks(data: dict, folder: str) -> list[Block]:
    rows = data["drift"]
    h, steps = rows[0]["h"], rows[0]["steps"]
    table = Table(("update rule", "convention", *TERMS),
                  tuple((r["rule"], r["convention"], *(f"{r['sizes'][t]:.3e}" for t in TERMS)) for r in rows))
    caption = f"{GAME}: drift terms along the iterates (α 1, λ 0.3, h {h:g}, {steps} steps), both conventions"
    return [Heading(3, "Drift decomposition"),
            Paragraph(spans(f"Sizes of the first-order drift terms of {GAME} at its default state (α 1, λ 0.3, h "
                            f"{h:g}): self terms −(h/2)r_i c_ii ∂F_i/∂z_i F_i and interaction terms −(h/2)r_i c_ij "
                            "∂F_i/∂z_j F_j.")),
            table, *(Image(f"{folder}/{GAME}-drift-{key}.svg", f"{GAME}: drift terms, {key}")
                     for key in data["drift_panels"]),
            Paragraph(spans(("em", caption)))]


def _regularisers_blocks(data: dict, folder: str) -> list[Block]:
    r = data["regularisers"]
    caption = (f"{r['game']}: distance to the equilibrium, plain simultaneous GD against the explicitly regularised "
               f"updates (α = λ = 1, h {r['h']:g})")
    summary = ", ".join(f"{label} {d:.3f}" for label, d in r["final_distance"].items())
    return [Heading(3, "Explicit regularisers"),
            Paragraph(spans(f"Distance to the equilibrium after {r['steps']} steps: {summary}.")),
            Image(f"{folder}/{r['game']}-regularisers.svg", caption), Paragraph(spans(("em", caption)))]


def section_blocks(data: dict) -> list[Block]:
    """The section "The paper, checked" from its recorded data (``measure``; results.json, key ``paper``)
    alone: the facts' table, stability maps, conserved quantities, drift terms, regularisers."""
    if not data:
        return []
    folder = data.get("folder", "paper")
    return (_facts_blocks(data) + _stability_blocks(data, folder) + _invariants_blocks(data)
            + _drift_blocks(data, folder) + _regularisers_blocks(data, folder))


def write_section(out: Path, folder: str = "paper", checks: Checks | None = None) -> tuple[str, list[str], dict]:
    """Measure the section (``measure``) into ``out`` and return its Markdown (figure links relative to
    ``out``), its disagreements (Findings lines) and its data (results.json, key ``paper``)."""
    data = measure(out, checks, folder)
    return markdown(section_blocks(data)), disagreements(data["facts"]), data


def disagreements(measured: list[Fact] | list[dict]) -> list[str]:
    """One Findings line per fact whose statement disagrees with the measurement (corrected or refuted); the
    facts as measured or as recorded (``Fact.to_dict``)."""
    recorded = [f.to_dict() if isinstance(f, Fact) else f for f in measured]
    return [f"Fact {f['number']} of {f['source'] or SOURCE} {f['verdict']}: "
            + (f["correction"] if f["correction"] else "; ".join(f["measured"])) + "." for f in recorded
            if f["verdict"] in ("confirmed with a correction", "refuted")]


def covers(games: set[str] | list[str]) -> bool:
    """Whether a report over ``games`` has the section (it covers PAPER_GAMES)."""
    return PAPER_GAMES <= set(games)


def section(games: set[str] | list[str], out: Path, checks: Checks | None = None) -> tuple[str, list[str], dict]:
    """The section's Markdown, its disagreements and its numbers when a report covers PAPER_GAMES (else "",
    none and {})."""
    return write_section(out, checks=checks) if covers(games) else ("", [], {})
