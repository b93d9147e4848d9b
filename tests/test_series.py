"""The error series (harness.verdict.series): the exact verdict beside the fitted slope, and the named terms of a
flow that departs from the update rule's modified field."""

import json

import jax
import numpy as np
import pytest
from test_mutations import mutations, random_game

import harness
from harness.checks import CheckResult
from harness.flows import Flow
from harness.measure import initial_points, jacobian_norm
from harness.verdict.series import THRESHOLD, Series, error_series, expression


def differing(series: Series) -> dict[tuple[str, str], tuple[str, str]]:
    return {(t.player, t.name): (t.flow_expression, t.rule_expression) for t in series.terms if t.differs}


def test_official_convention_names_the_interaction_terms():
    simultaneous = harness.check("dirac_gan", "simultaneous", "official", lr2=0.3, points=2).series
    assert (simultaneous.agrees_through, simultaneous.predicted_slope, simultaneous.at_least) == (0, 2.0, False)
    assert differing(simultaneous) == {("phi", "f_theta(g)"): ("-alpha**2/2", "-alpha*lambda/2"),
                                       ("theta", "g_phi(f)"): ("-lambda**2/2", "-alpha*lambda/2")}
    coefficients = {(t.player, t.name): (t.flow, t.rule) for t in simultaneous.terms}
    assert np.allclose(coefficients["phi", "f_theta(g)"], (-0.5, -0.15), rtol=1e-9)
    assert np.allclose(coefficients["theta", "g_phi(f)"], (-0.045, -0.15), rtol=1e-9)
    assert np.allclose(coefficients["phi", "f_phi(f)"], (-0.5, -0.5), rtol=1e-9)  # self terms agree
    assert simultaneous.residual < 1e-9
    alternating = harness.check("dirac_gan", "alternating", "official", lr2=0.3, points=2).series
    assert set(differing(alternating)) == {("phi", "f_theta(g)"), ("theta", "g_phi(f)")}
    values = {(t.player, t.name): (t.flow, t.rule) for t in alternating.terms}
    assert np.allclose(values["theta", "g_phi(f)"], (0.3 - 0.045, 0.15), rtol=1e-9)  # -lambda(lambda - 2 alpha)/2


def test_right_flows_agree_through_their_order_to_round_off():
    for scheme, flow, params in (("alternating", "modified", dict(lr1=0.4, lr2=1.5, m=2, k=3)),
                                 ("extragradient", "modified", {}), ("midpoint", "gradient", {}),
                                 ("regularised", "modified", dict(lr2=0.3))):
        series = harness.check("nonconvex_nonconcave", scheme, flow, points=2, **params).series
        assert series.at_least and series.agrees_through == series.orders, (scheme, flow)
        assert max(max(row) for row in series.relative) <= THRESHOLD
    assert harness.check("nonconvex_nonconcave", "midpoint", "gradient", points=2).series.predicted_slope == 3


# Each mutation is a flow of its own whose series program is compiled afresh (a case: 11.7 s alone with empty
# caches, 19.4 s when each mutation was a whole check): the default suite runs one seed for each rule,
# `pytest -m slow` the other two cases.
@pytest.mark.parametrize("seed, name", [(3, "simultaneous"), (11, "alternating"),
                                        pytest.param(3, "alternating", marks=pytest.mark.slow),
                                        pytest.param(11, "simultaneous", marks=pytest.mark.slow)])
def test_each_mutated_coefficient_is_named(seed, name):
    game = random_game(seed, 2, 2)  # quadratic-bilinear: every first-order term is identifiable

    def closed_form(c):
        @harness.flow(order=1)
        def flow(f, g, phi, theta, h, lr1, lr2):
            f0, df = jax.linearize(f, phi, theta)
            g0, dg = jax.linearize(g, phi, theta)
            return (lr1 * f0 - 0.5 * h * lr1 * df(c[0, 0] * f0, c[0, 1] * g0),
                    lr2 * g0 - 0.5 * h * lr2 * dg(c[1, 0] * f0, c[1, 1] * g0))

        return flow

    names = {(0, 0): ("phi", "f_phi(f)"), (0, 1): ("phi", "f_theta(g)"), (1, 0): ("theta", "g_phi(f)"),
             (1, 1): ("theta", "g_theta(g)")}
    scheme = harness.rules.schemes.Scheme(name, 1.7, 0.6)
    points, scale = initial_points(game, 2), jacobian_norm(game, scheme)  # a check's, at 2 points

    def series_of(flow):  # a check's series, without its measurement (a kernel of its own for each flow)
        return error_series(game, scheme, Flow.of(flow), points, scale)

    _, right = harness.flows.flow_coefficients(Flow("modified"), scheme)
    agreeing = series_of(closed_form(right))
    assert agreeing.at_least and harness.check(game, scheme, closed_form(right), points=2).series == agreeing
    for label, wrong in mutations(right, scheme).items():
        series = series_of(closed_form(wrong))
        changed = {names[i, j] for i in range(2) for j in range(2) if wrong[i, j] != right[i, j]}
        assert series.differing_order == 1 and set(differing(series)) == changed, label
        assert series.residual < 1e-8


def test_single_objective_second_order_names_the_elementary_differentials():
    @harness.flow(order=2)
    def igr_claimed_second_order(V, z, h):
        return V(z) - (h / 2) * jax.jvp(V, (z,), (V(z),))[1]

    series = harness.check("rosenbrock", "gd", igr_claimed_second_order, points=2).series
    assert (series.agrees_through, series.predicted_slope) == (1, 3.0)
    terms = {t.name: (t.flow, t.rule, t.rule_expression) for t in series.terms}
    assert terms["f_phi_phi(f, f)"][2] == "alpha**3/12" and terms["f_phi(f_phi(f))"][2] == "alpha**3/3"
    assert np.allclose([terms["f_phi_phi(f, f)"][1], terms["f_phi(f_phi(f))"][1]], [1 / 12, 1 / 3], rtol=1e-8)
    assert np.allclose([terms["f_phi_phi(f, f)"][0], terms["f_phi(f_phi(f))"][0]], 0.0, atol=1e-12)


def test_multistep_rules_have_no_series_and_say_why():
    result = harness.check("bilinear", "heavy_ball", "modified", beta=0.5, points=2)
    assert not result.series.available and "multistep" in result.series.reason
    assert result.to_dict()["series"] == {"available": False, "reason": result.series.reason}


def test_bea_flows_agree_by_construction_and_above_their_order_by_computation():
    assert harness.check("dirac_gan", "simultaneous", "bea:2", points=1).series.attribution.startswith(
        "by construction")
    series = harness.check("nonconvex_nonconcave", "rk4", "bea:1", points=1).series  # compares h^0 ... h^3
    assert series.orders == 3 and series.at_least and series.predicted_slope == 5


def test_a_series_that_sees_what_the_fit_cannot_says_they_disagree():
    @harness.flow(order=1)
    def almost_right(V, z, h):  # the modified flow plus a term 1e-9 h V: invisible to the fit, not to the series
        v = V(z)
        return v - (h / 2) * jax.jvp(V, (z,), (v,))[1] + 1e-9 * h * v

    result = harness.check("rosenbrock", "gd", almost_right, points=2)
    assert result.fit.status == "PASS" and result.series.predicted_slope == 2
    assert any("the error series and the fit disagree" in reason for reason in result.fit.reasons)
    right = harness.check("rosenbrock", "gd", "igr", points=2)
    assert not any("disagree" in reason for reason in right.fit.reasons)


def test_a_pre_asymptotic_check_states_what_the_series_predicts():
    result = harness.check("dirac_gan", "simultaneous", "modified", h_max=30.0, decades=1.0, points=2)
    assert result.fit.status not in ("PASS", "FAIL")
    assert "the error series predicts slope at least 3" in result.fit.reasons


def test_series_round_trips_through_json_and_diagnose_recomputes_it():
    result = harness.check("dirac_gan", "simultaneous", "official", lr2=0.3, points=2)
    entry = json.loads(json.dumps(result.to_dict()))
    assert entry["series"]["leading_difference"]["order"] == 1
    assert entry["series"]["threshold"] == THRESHOLD
    again = CheckResult.from_dict(entry, result.settings)
    assert again.to_dict() == entry
    again.series = None
    assert harness.diagnose(again).to_dict() == entry["series"]


def test_expressions_of_coefficients():
    symbols = {"alpha": 1.0, "lambda": 0.3, "m": 2, "k": 3}
    assert expression(-0.15, symbols, 2) == "-alpha*lambda/2"
    assert expression(-0.5 / 2, symbols, 2) == "-alpha**2/(2*m)"
    assert expression(0.3 ** 2 / 6, symbols, 2) == "lambda**2/(2*k)"
    assert expression(0.0, symbols, 2) == "0" and expression(0.1234567, symbols, 2) is None


def test_cli_prints_the_diagnosis_under_a_failing_verdict(capsys):
    from test_reliability import run_cli  # the command line in this process: a fresh one would start JAX again

    code, out, _ = run_cli(capsys, "check", "--game", "dirac_gan", "--lr2", "0.3", "--flow", "official", "--flow",
                           "modified", "--points", "2")
    assert code == 1
    lines = out.splitlines()
    failing = next(i for i, line in enumerate(lines) if line.startswith("FAIL"))
    assert "series 2)" in lines[failing]
    diagnosis = lines[failing + 1: failing + 5]
    assert diagnosis[1].strip() == "phi equation, f_θ g: flow -0.5 (-alpha**2/2), rule -0.15 (-alpha*lambda/2)"
    assert diagnosis[2].strip() == ("theta equation, g_φ f: flow -0.045 (-lambda**2/2), rule -0.15 "
                                    "(-alpha*lambda/2)")
    assert diagnosis[3].strip().startswith("agree: f_φ f, g_θ g")
    assert lines[failing + 5].startswith("PASS") and "series ≥3" in lines[failing + 5]


def test_third_order_of_gradient_descent_names_its_four_elementary_differentials():
    @harness.flow(order=3)
    def euler_second_order(V, z, h):  # the modified field of GD through h^2, claimed through h^3
        v = V(z)
        along = lambda u: jax.jvp(V, (z,), (u,))[1]  # noqa: E731
        second = jax.jvp(lambda x: jax.jvp(V, (x,), (v,))[1], (z,), (v,))[1]
        return v - h / 2 * along(v) + h ** 2 * (second / 12 + along(along(v)) / 3)

    series = harness.check("rosenbrock", "gd", euler_second_order, points=2, lr1=0.7).series
    assert (series.agrees_through, series.predicted_slope) == (2, 4.0) and series.residual < 1e-9
    named = {t.name: t.rule_expression for t in series.terms if t.differs}
    assert named == {"f_phi_phi(f, f_phi(f))": "-alpha**4/12", "f_phi(f_phi_phi(f, f))": "-alpha**4/12",
                     "f_phi(f_phi(f_phi(f)))": "-alpha**4/4"}


def test_a_flow_whose_expansion_in_h_is_not_finite_has_no_series_and_says_why():
    """alpha h / (lambda h) is 0/0 at h = 0: the series says so instead of naming a spurious difference."""

    @harness.flow(order=1)
    def ratio(V, z, h):
        v = V(z)
        return v - (h / 2) * ((h * 1.0) / (h * 1.0)) * jax.jvp(V, (z,), (v,))[1]

    result = harness.check("dirac_gan", "simultaneous", ratio, points=2)
    assert abs(result.fit.slope - 3) < 0.15
    assert not result.series.available and "not finite at h = 0" in result.series.reason
