"""The report section "The paper, checked": each fact of docs/theory.md §5 with the number the harness measures.

Each ``fact_N`` function measures fact N and returns a ``Fact`` (the claim, the measured numbers in words,
pass or fail, and the raw numbers). Slopes come from ``harness.checks.run_check`` (local error of one step,
or the global error at a fixed horizon for fact 6) on the nonlinear Dirac-GAN unless said otherwise;
stability numbers from ``harness.stability``, conserved quantities from ``harness.invariants``.
``write_section`` runs them all, writes the section's figures (stability maps, drift decomposition,
regularised Dirac-GAN) and returns its Markdown and disagreements; ``section`` does so for a report that covers
PAPER_GAMES.

Each fact's statement is read from docs/theory.md §5 (``stated``), never typed here; where the repository has
no docs/theory.md the section says so and uses the harness's own one-line summary. Fact 7's formula for the
official-code convention's trace on the bilinear game is read from that statement and evaluated (``formula_value``)
to compare it with the measured trace (autodiff trace of the official flow's Jacobian): a disagreement is a
correction naming docs/theory.md §5 item 7 and both numbers, computed.

``write_section`` also returns every number of the section as plain data (``results.json``, key ``paper``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from harness.bea import modified_field
from harness.catalog import catalog
from harness.checks import CheckResult, CheckSpec, Settings, run_check
from harness.drift import TERMS, drift_along, drift_sizes
from harness.figures import save
from harness.flows import Flow, flow_field
from harness.game import Game
from harness.invariants import declared, invariant_drift, iterates
from harness.measure import initial_points
from harness.paper_figures import distance_figure, drift_panels, stability_legend, stability_panels
from harness.schemes import Scheme, update_map
from harness.stability import analyse, map_grid, spectral_radii, stability_map

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
THEORY = Path(__file__).resolve().parents[1] / "docs" / "theory.md"
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


def _check(scheme: Scheme, flow: str, expected: float | None = None, game: str = GAME,
           measure: str = "local") -> CheckResult:
    spec = CheckSpec(game, scheme, Flow(flow), expected, measure=measure)
    return run_check(_games()[game], spec, SETTINGS)


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


def _slope_fact(number: int, summary: str, checks: dict[str, CheckResult]) -> Fact:
    phrases, passed, values = _slopes(checks)
    claim, source = _claim(number, summary)
    return Fact(number, claim, phrases, passed, values, source=source, checks=_records(checks))


def fact_1() -> Fact:
    """Simultaneous and alternating GD against the gradient flow: slope 2."""
    return _slope_fact(1, "Simultaneous and alternating GD vs. the gradient flow: slope 2.", {
        "simultaneous (α 0.4, λ 1.5)": _check(Scheme("simultaneous", 0.4, 1.5), "gradient"),
        "alternating (α 0.4, λ 1.5)": _check(Scheme("alternating", 0.4, 1.5), "gradient"),
    })


def fact_2() -> Fact:
    """Both against the joint-convention first-order modified flow: slope 3 for any alpha, lambda, m, k."""
    return _slope_fact(2, "Both vs. the joint-convention first-order modified flow: slope 3, any α, λ, m, k.", {
        "simultaneous (α 0.4, λ 1.5)": _check(Scheme("simultaneous", 0.4, 1.5), "modified"),
        "alternating (α 0.4, λ 1.5, m 2, k 3)": _check(Scheme("alternating", 0.4, 1.5, 2, 3), "modified"),
        "alternating θ first (α 1, λ 0.3)": _check(Scheme("alternating", 1.0, 0.3, first="theta"), "modified"),
    })


def fact_3() -> Fact:
    """The official-code convention: slope 3 iff alpha = lambda, slope 2 otherwise."""
    checks = {}
    for name in ("simultaneous", "alternating"):
        checks[f"{name} (α = λ = 1)"] = _check(Scheme(name, 1.0, 1.0), "official")
        checks[f"{name} (α 1, λ 0.3)"] = _check(Scheme(name, 1.0, 0.3), "official", expected=2.0)
    return _slope_fact(3, "Official-code convention: slope 3 iff α = λ, slope 2 otherwise.", checks)


def fact_4() -> Fact:
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


def fact_5() -> Fact:
    """Simultaneous GD against the second-order Euler field: slope 4 (measured with bea:2, which is checked
    against the closed form of docs/theory.md §3 at the initial points)."""
    game, scheme, h = _games()[GAME], Scheme("simultaneous", 1.0, 0.3), 0.1
    closed = jax.vmap(euler_second_order_field(game, scheme.lr1, scheme.lr2), (0, None))
    automatic = jax.vmap(modified_field(update_map(game, scheme.structure), 2), (0, None, None))
    points = jnp.asarray(initial_points(game, SETTINGS.points, SETTINGS.seed))
    expected = closed(points, h)
    gap = float(np.max(np.linalg.norm(automatic(points, h, scheme.params) - expected, axis=1)
                       / np.linalg.norm(expected, axis=1)))
    check = {"simultaneous (α 1, λ 0.3) vs. bea:2": _check(scheme, "bea:2")}
    phrases, passed, values = _slopes(check)
    phrases.append(f"bea:2 = F − (h/2)F′F + h²(F″(F,F)/12 + F′F′F/3) to {gap:.1e} (relative, h 0.1)")
    claim, source = _claim(5, "Simultaneous GD vs. the second-order Euler field: slope 4.")
    return Fact(5, claim, phrases, passed and gap <= 1e-12, {**values, "closed_form_gap": gap, "h": h}, source=source,
                checks=_records(check))


def fact_6() -> Fact:
    """The global error at a fixed horizon: slope 1 against the gradient flow, 2 against the modified flow."""
    checks = {}
    for name in ("simultaneous", "alternating"):
        for flow in ("gradient", "modified"):
            checks[f"{name} vs. {flow} (α 1, λ 0.3)"] = _check(Scheme(name, 1.0, 0.3), flow, measure="global")
    return _slope_fact(6, "Global error at fixed T: slope 1 vs. the gradient flow, 2 vs. the first-order "
                       "modified flow.", checks)


def fact_7() -> Fact:
    """Bilinear E = c phi theta (c = 1): simultaneous GD's spectral radius sqrt(1 + alpha lambda h^2 c^2) > 1 for
    every h; alternating GD has det M = 1, conserves Q and cycles while alpha lambda h^2 c^2 < 4; the joint
    modified flow of alternating GD has trace 0; the official one's trace is compared with the formula that
    docs/theory.md §5 item 7 states (read and evaluated there), and is positive (it predicts divergence) where
    the iterates cycle."""
    game, (alpha, lam, h) = _games()["dirac_gan_bilinear"], BILINEAR
    c = float(jax.jacfwd(game.field)(jnp.zeros(2))[1, 0])  # g = c phi
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


def fact_8() -> Fact:
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


def fact_9() -> Fact:
    """Explicit regularisation: the update that cancels the interaction terms follows the self-terms-only flow
    (slope 3 for any alpha, lambda; also with the self terms strengthened); with the official code's
    coefficient (own rate) the interaction terms cancel only when alpha = lambda (slope 2 against the
    self-terms-only flow otherwise)."""
    official = Scheme("regularised", 1.0, 0.3, convention="official")
    return _slope_fact(9, "Regularised update (interaction terms cancelled) vs. its self-terms-only flow: slope 3 "
                       "for any α, λ; the official code's coefficient cancels exactly only when α = λ.", {
                           "cancelled (α 1, λ 0.3)": _check(Scheme("regularised", 1.0, 0.3), "modified"),
                           "cancelled (α 0.4, λ 1.5)": _check(Scheme("regularised", 0.4, 1.5), "modified"),
                           "cancelled, self terms ×2 (α 0.4, λ 1.5)":
                               _check(Scheme("regularised", 0.4, 1.5, strengthen=1.0), "modified"),
                           "own-rate coefficient, α = λ = 1, vs. self terms only":
                               _check(replace(official, lr2=1.0), "official"),
                           "own-rate coefficient, α 1, λ 0.3, vs. self terms only":
                               _check(official, "official", expected=2.0),
                           "own-rate coefficient, α 1, λ 0.3, vs. its own flow (interaction left (λ − α))":
                               _check(official, "modified"),
                       })


def fact_10() -> Fact:
    """Extragradient, OGDA and heavy ball against their closed-form first-order fields: slope 3."""
    return _slope_fact(10, "Extragradient, OGDA, heavy ball vs. the fields in §3: slope 3.", {
        "extragradient (α 1, λ 0.3)": _check(Scheme("extragradient", 1.0, 0.3), "modified"),
        "OGDA (α 1, λ 0.3)": _check(Scheme("ogda", 1.0, 0.3), "modified"),
        "heavy ball β 0.5 (α 1, λ 0.3)": _check(Scheme("heavy_ball", 1.0, 0.3, beta=0.5), "modified"),
    })


FACTS = (fact_1, fact_2, fact_3, fact_4, fact_5, fact_6, fact_7, fact_8, fact_9, fact_10)


def facts() -> list[Fact]:
    """Every fact of docs/theory.md §5, measured."""
    return [fact() for fact in FACTS]


# --- the section: the facts' table, stability, invariants, drift, regularisers --------------------------

def _stability(folder: Path, data: dict) -> list[str]:
    lines = ["### Stability at the equilibrium", "",
             "Per update rule, where its iterates near the equilibrium converge (ρ(M) < 1), cycle (ρ = 1) or "
             "diverge (ρ > 1) over (αh, λh), and what each flow's Jacobian predicts there (max Re eig < 0, = 0, "
             "> 0).", ""]
    shares: dict[str, dict] = data.setdefault("stability", {})
    for name in ("dirac_gan", "rotational"):
        game = _games()[name]
        grid = map_grid(game, count=48)
        maps = [stability_map(game, Scheme(rule), grid, grid) for rule in ("simultaneous", "alternating")]
        stems = []
        for key, figure in stability_panels(maps).items():
            save(figure, folder, f"{name}-stability-{key}")
            stems.append(f"{name}-stability-{key}")
        shares[name] = {"grid": len(grid), "agreement_percent": {
            m.scheme.name: {flow: 100 * m.agreement(flow) for flow in m.flows} for m in maps}}
        agreement = "; ".join(f"{m.scheme.name}: " + ", ".join(f"{flow} {100 * m.agreement(flow):.0f}%"
                                                                for flow in m.flows) for m in maps)
        caption = (f"{name}: stability maps ({stability_legend()}); share of the grid where each flow predicts the "
                   f"iterates: {agreement}")
        lines += [line for stem in stems for line in (f"![{name}: {stem.split('-stability-')[1]}]"
                                                      f"({folder.name}/{stem}.svg)", "")]
        lines += [f"*{caption}*", ""]
    return lines


def _invariants(data: dict) -> list[str]:
    """The drift of every invariant that a catalog game declares, under alternating GD (INVARIANT_STEPS steps)
    and simultaneous GD (100 steps: it diverges on the bilinear game), at the rates and step size of fact 7."""
    alpha, lam, h = BILINEAR
    lines = ["### Conserved quantities", "",
             f"Invariants the catalog games declare (α {alpha:g}, λ {lam:g}, h {h:g}): largest |Q(z_n) − Q(z_0)| "
             "along the iterates and along each flow sampled at the times nh.", "",
             "| game | invariant | update rule | steps | Q₀ | iterates | gradient flow | modified flow |",
             "|---|---|---|---|---|---|---|---|"]
    rows: list[dict] = data.setdefault("invariants", [])
    for name, game in _games().items():
        for invariant in declared(game):
            for rule, steps in (("alternating", INVARIANT_STEPS), ("simultaneous", 100)):
                d = invariant_drift(game, invariant, Scheme(rule, alpha, lam), h, steps)
                rows.append({"game": name, "invariant": invariant, "rule": rule, "steps": steps, "alpha": alpha,
                             "lambda": lam, "h": h, "initial": d.initial, "iterates": d.iterates,
                             "gradient_flow": d.flows["gradient"], "modified_flow": d.flows["modified"]})
                lines.append(f"| {name} | {invariant} | {rule} | {steps} | {d.initial:.4g} | {d.iterates:.2e} | "
                             f"{d.flows['gradient']:.2e} | {d.flows['modified']:.2e} |")
    lines.append("")
    for row in rows:
        if row["rule"] != "alternating":
            continue
        scale = 1e-12 * abs(row["initial"])
        conserved = [what for what, key in (("the iterates", "iterates"), ("the modified flow", "modified_flow"),
                                            ("the gradient flow", "gradient_flow")) if row[key] <= scale]
        others = [w for w in ("the iterates", "the modified flow", "the gradient flow") if w not in conserved]
        if conserved:
            lines.append(f"On {row['game']} under alternating GD, {' and '.join(conserved)} "
                         f"{'conserve' if len(conserved) > 1 else 'conserves'} {row['invariant']} to within 10⁻¹² "
                         f"of |{row['invariant']}₀| over {row['steps']} steps"
                         + (f"; {' and '.join(others)} {'do' if len(others) > 1 else 'does'} not." if others else "."))
    return lines + [""]


def _drift(folder: Path, data: dict) -> list[str]:
    game, h = _games()[GAME], 0.2
    lines = ["### Drift decomposition", "",
             f"Sizes of the first-order drift terms of {GAME} at its default state (α 1, λ 0.3, h {h:g}): "
             "self terms −(h/2)r_i c_ii ∂F_i/∂z_i F_i and interaction terms −(h/2)r_i c_ij ∂F_i/∂z_j F_j.", "",
             "| update rule | convention | " + " | ".join(TERMS) + " |", "|---|---|" + "---|" * len(TERMS)]
    paths, rows = [], data.setdefault("drift", [])
    for rule in ("simultaneous", "alternating"):
        scheme = Scheme(rule, 1.0, 0.3)
        for flow, convention in (("modified", "joint"), ("official", "official code")):
            sizes = drift_sizes(game, Flow(flow), scheme, game.z0, h)
            rows.append({"game": GAME, "rule": rule, "convention": convention, "alpha": 1.0, "lambda": 0.3, "h": h,
                         "steps": 300, "sizes": {t: float(sizes[t]) for t in TERMS}})
            lines.append(f"| {rule} | {convention} | " + " | ".join(f"{sizes[t]:.3e}" for t in TERMS) + " |")
        paths.append(drift_along(game, scheme, iterates(game, scheme, h, 300), h))
    lines.append("")
    for key, figure in drift_panels(paths).items():
        save(figure, folder, f"{GAME}-drift-{key}")
        lines += [f"![{GAME}: drift terms, {key}]({folder.name}/{GAME}-drift-{key}.svg)", ""]
    caption = f"{GAME}: drift terms along the iterates (α 1, λ 0.3, h {h:g}, 300 steps), both conventions"
    return lines + [f"*{caption}*", ""]


def _regularisers(folder: Path, data: dict) -> list[str]:
    game, h, steps = _games()[GAME], REGULARISED_H, REGULARISED_STEPS
    rules = {"simultaneous GD": Scheme("simultaneous"), "regularised (interaction cancelled)": Scheme("regularised"),
             "regularised, self terms ×2": Scheme("regularised", strengthen=1.0),
             "alternating GD": Scheme("alternating")}
    star = np.asarray(game.metadata["equilibrium"])
    distances = {label: np.linalg.norm(iterates(game, s, h, steps) - star, axis=1) for label, s in rules.items()}
    save(distance_figure(GAME, h, distances), folder, f"{GAME}-regularisers")
    data["regularisers"] = {"game": GAME, "h": h, "steps": steps, "alpha": 1.0, "lambda": 1.0,
                            "final_distance": {label: float(d[-1]) for label, d in distances.items()}}
    caption = (f"{GAME}: distance to the equilibrium, plain simultaneous GD against the explicitly regularised "
               f"updates (α = λ = 1, h {h:g})")
    summary = ", ".join(f"{label} {d[-1]:.3f}" for label, d in distances.items())
    return ["### Explicit regularisers", "", f"Distance to the equilibrium after {steps} steps: {summary}.", "",
            f"![{caption}]({folder.name}/{GAME}-regularisers.svg)", "", f"*{caption}*", ""]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


RESULT_WORDS = {"confirmed": "PASS", "confirmed with a correction": "PASS with a correction ⚠", "refuted": "FAIL ✗",
                "not measured": "not measured"}


def write_section(out: Path, folder: str = "paper") -> tuple[str, list[str], dict]:
    """Measure every fact, write the section's figures into ``out / folder`` and return the section's
    Markdown (figure links relative to ``out``), its disagreements (Findings lines) and every number it
    shows as plain data (results.json, key ``paper``)."""
    target = Path(out) / folder
    measured = facts()
    counts = {v: sum(f.verdict == v for f in measured) for v in RESULT_WORDS}
    read = all(f.source for f in measured)
    data: dict = {"source": SOURCE if read else None, "facts": [f.to_dict() for f in measured], "counts": counts}
    where = ("quoted from that file" if read else
             f"as the harness summarises it ({SOURCE} was not found: the statements are not read from it)")
    lines = [f"## {TITLE}", "",
             f"Each fact of {SOURCE}, {where}, with what the harness measures: of {len(measured)}, "
             + ", ".join(f"{n} {v}" for v, n in counts.items() if n or v != "not measured") + ".", "",
             f"| # | fact ({SOURCE if read else 'summary'}) | measured | result |", "|---|---|---|---|"]
    for f in measured:
        lines.append(f"| {f.number} | {_cell(f.claim)} | {_cell('; '.join(f.measured))} | {RESULT_WORDS[f.verdict]} |")
    lines += [""] + [f"**Fact {f.number}, corrected.** {f.correction[0].upper()}{f.correction[1:]}." for f in measured
                     if f.correction] + [""]
    lines += _stability(target, data) + _invariants(data) + _drift(target, data) + _regularisers(target, data)
    return "\n".join(lines), disagreements(measured), data


def disagreements(measured: list[Fact]) -> list[str]:
    """One Findings line per fact whose statement disagrees with the measurement (corrected or refuted)."""
    return [f"Fact {f.number} of {f.source or SOURCE} {f.verdict}: "
            + (f.correction if f.correction else "; ".join(f.measured)) + "." for f in measured
            if f.verdict in ("confirmed with a correction", "refuted")]


def section(games: set[str] | list[str], out: Path) -> tuple[str, list[str], dict]:
    """The section's Markdown, its disagreements and its numbers when a report covers PAPER_GAMES (else "",
    none and {})."""
    return write_section(out) if PAPER_GAMES <= set(games) else ("", [], {})
