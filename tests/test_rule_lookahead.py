"""Lookahead (harness/rules/lookahead.py): k inner steps of a base rule, then z' = z + a (z_k - z); its step
against a closed form, its first-order flow a k V + h (a k / 2)(k - 1 - a k) V'V at slope 3, its derived
coefficients, and its parameters through the API, the command line and the check matrix."""

from fractions import Fraction

import jax.numpy as jnp
import numpy as np
import pytest
from test_reliability import run_cli

import harness
from harness import Game, RuleError
from harness.checks import load_matrix
from harness.rules.schemes import Scheme, update_rule

A = np.array([[0.3, -1.1], [0.9, -0.2]])


def linear_game() -> Game:
    """f = A_0 . z, g = A_1 . z: the field is A z, so V = diag(alpha, lambda) A z."""
    return Game("linear", lambda p, t: -(A[0, 0] * p[0] ** 2 / 2 + A[0, 1] * p[0] * t[0]),
                lambda p, t: -(A[1, 0] * p[0] * t[0] + A[1, 1] * t[0] ** 2 / 2), [0.5], [-0.4])


@pytest.mark.parametrize("a, inner", [(0.5, 5), (1.0, 1), (0.8, 3)])
def test_step_is_the_base_rule_k_times_then_a_pull(a, inner):
    """On V(z) = M z with M = diag(alpha, lambda) A: z' = z + a ((I + h M)^k - I) z."""
    scheme = Scheme("lookahead", 0.7, 1.3, options={"a": a, "inner": inner})
    z, h = np.array([0.5, -0.4]), 0.05
    M = np.diag([0.7, 1.3]) @ A
    expected = z + a * (np.linalg.matrix_power(np.eye(2) + h * M, inner) - np.eye(2)) @ z
    np.testing.assert_allclose(update_rule(linear_game(), scheme)(jnp.asarray(z), h), expected, rtol=1e-14)


@pytest.mark.parametrize("game", ["dirac_gan", "bilinear", "quadratic_objective"])
def test_first_order_flow_passes_at_slope_3(game):
    lr2 = 1.0 if game == "quadratic_objective" else 0.6
    modified = harness.check(game, "lookahead", "modified", lr2=lr2, a=0.5, inner=4, points=2)
    gradient = harness.check(game, "lookahead", "gradient", lr2=lr2, a=0.5, inner=4, points=2)
    assert modified.passed and abs(modified.fit.slope - 3) < 0.15
    assert gradient.passed and abs(gradient.fit.slope - 2) < 0.15


def test_derived_coefficients_are_a_k_and_a_k_over_2_times_k_minus_1_minus_a_k():
    """One objective, a = 1/2, k = 3: a k = 3/2 and (a k / 2)(k - 1 - a k) = 3/8 on f'f."""
    derivation = harness.derive("lookahead", 1, players=1, a=0.5, inner=3)
    coefficients = {(term.order, term.tree): term.exact for term in derivation.terms}
    assert Fraction(coefficients[(0, "f")]) == Fraction(3, 2)
    assert Fraction(coefficients[(1, "f_phi(f)")]) == Fraction(3, 8)


def test_other_bases_have_no_closed_form_but_bea_flows():
    result = harness.check("bilinear", "lookahead", "bea:1", base="extragradient", a=0.5, inner=2, points=2)
    assert result.passed and abs(result.fit.slope - 3) < 0.15
    with pytest.raises(harness.HarnessError, match="no closed-form 'modified' flow for lookahead over extragradient"):
        harness.check("bilinear", "lookahead", "modified", base="extragradient", points=2)


@pytest.mark.parametrize("options, message", [
    ({"inner": 0}, "inner must be a positive integer"),
    ({"a": 1.5}, r"a must be in \(0, 1\] for lookahead"),
    ({"base": "ogda"}, "base must be"),
])
def test_bad_parameters_are_refused(options, message):
    with pytest.raises(RuleError, match=message):
        Scheme("lookahead", options=options)


def test_parameters_belong_to_lookahead_only():
    with pytest.raises(RuleError, match="a applies to lookahead only, not 'simultaneous'"):
        Scheme("simultaneous", options={"a": 0.3})


def test_command_line_and_matrix(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "check", "--game", "dirac_gan", "--scheme", "lookahead", "--a", "0.5", "--inner",
                           "3", "--flow", "modified", "--points", "2")
    assert code == 0 and "lookahead(lr1=1, lr2=1, a=0.5, inner=3, base=simultaneous)" in out
    matrix = tmp_path / "m.toml"
    matrix.write_text('[[check]]\ngames = ["bilinear"]\nscheme = "lookahead"\na = 0.25\ninner = 2\n'
                      'flows = ["modified"]\n')
    _, (spec,) = load_matrix(matrix)
    assert (spec.scheme.value("a"), spec.scheme.value("inner")) == (0.25, 2)
    assert Scheme(**spec.scheme.to_dict()) == spec.scheme
