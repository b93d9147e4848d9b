"""heavy_ball_damped and nag_damped (harness/rules/heavy_ball_damped.py, nag_damped.py): classical momentum and
Nesterov with momentum e^(-gamma sqrt(s)) as França et al. 2020 write them; each step against a hand-written
(v, x) form, the two-step residual's slopes against the shadow ODEs (10), (11) and the low-resolution ODE (4) of
literature/franca_2020.py, and gamma through the API, the command line and the check matrix."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_reliability import run_cli

import harness
from harness import RuleError
from harness.checks import load_matrix
from harness.model.catalog import load_file
from harness.rules import RULES
from harness.rules.schemes import Scheme

LITERATURE = Path(__file__).resolve().parents[1] / "literature"
FRANCA = LITERATURE / "franca_2020.py"
GAMMA = load_file(str(FRANCA)).GAMMA  # the flows' default gamma


def grad_f(x):
    """grad f of f(x) = sum(x^4)/4 + x_0 x_1 + 2 x_1^2 (nonlinear, so where V is evaluated matters)."""
    return np.array([x[0] ** 3 + x[1], x[1] ** 3 + x[0] + 4 * x[1]])


def V(x):
    return -jnp.stack([x[0] ** 3 + x[1], x[1] ** 3 + x[0] + 4 * x[1]])


def franca(name, x, x_prev, s, gamma):
    """França et al.'s (v, x) form with v_k = x_k - x_(k-1), mu = e^(-gamma h), eps = h^2 = s (mass 1):
    CM v' = mu v - eps grad f(x), NAG v' = mu v - eps grad f(x + mu v); x' = x + v'."""
    mu, eps, v = np.exp(-gamma * np.sqrt(s)), s, x - x_prev
    at = x if name == "heavy_ball_damped" else x + mu * v
    return x + (mu * v - eps * grad_f(at))


@pytest.mark.parametrize("name", ["heavy_ball_damped", "nag_damped"])
@pytest.mark.parametrize("gamma, s", [(0.0, 0.01), (2.0, 0.01), (0.7, 0.0004)])
def test_the_step_is_francas_v_x_form(name, gamma, s):
    x, x_prev = np.array([0.6, -0.3]), np.array([0.58, -0.27])
    params = Scheme(name, options={"gamma": gamma}).params
    stepped = RULES[name].advance(V, jnp.asarray(x), jnp.asarray(x_prev), jnp.asarray(s), 1.0, params)
    np.testing.assert_allclose(np.asarray(stepped), franca(name, x, x_prev, s, gamma), rtol=0, atol=1e-15)


def test_nag_scs_points_after_the_gradient_step_follow_the_sutskever_step():
    """nag_sc steps Nesterov's extrapolated points x_k; y_(k+1) = x_k + s V(x_k) follow y_(k+2) = Y + s V(Y),
    Y = y_(k+1) + a (y_(k+1) - y_k): nag_damped's step with nag_sc's momentum a."""
    s, params = 0.01, Scheme("nag_sc", mu=0.5).params
    a = (1 - np.sqrt(0.5 * s)) / (1 + np.sqrt(0.5 * s))
    x_prev, x = jnp.array([0.6, -0.3]), jnp.array([0.58, -0.27])
    x_next = RULES["nag_sc"].advance(V, x, x_prev, s, 1.0, params)
    y_k, y_1, y_2 = (p + s * V(p) for p in (x_prev, x, x_next))
    Y = y_1 + a * (y_1 - y_k)
    np.testing.assert_allclose(np.asarray(y_2), np.asarray(Y + s * V(Y)), rtol=0, atol=1e-15)


@harness.flow(order=1, name="CM shadow ODE without its h^2 terms")
def classical_momentum_order_h(V, x, v, t, s, *, gamma=GAMMA):
    """(10) without its h^2 terms: X'' = -gamma X' + (1 + h gamma/2) V(X)."""
    return -gamma * v + (1 + jnp.sqrt(s) * gamma / 2) * V(x)


@harness.flow(order=1, name="NAG shadow ODE without its h^2 terms")
def nesterov_order_h(V, x, v, t, s, *, gamma=GAMMA):
    """(11) without its h^2 terms: X'' = -gamma X' + h V'(X) X' + (1 + h gamma/2) V(X)."""
    return -gamma * v + jnp.sqrt(s) * jax.jvp(V, (x,), (v,))[1] + (1 + jnp.sqrt(s) * gamma / 2) * V(x)


@pytest.mark.parametrize("rule, flow, expected", [
    ("heavy_ball_damped", f"{FRANCA}:classical_momentum", 4), ("nag_damped", f"{FRANCA}:nesterov", 4),
    ("heavy_ball_damped", f"{FRANCA}:low_resolution", 3), ("nag_damped", f"{FRANCA}:low_resolution", 3),
    ("heavy_ball_damped", classical_momentum_order_h, 4), ("nag_damped", nesterov_order_h, 4),
])
def test_the_slopes_are_4_against_the_shadow_odes_and_3_against_the_low_resolution_ode(rule, flow, expected):
    """Slope 4 in h = sqrt(s) for (10) and (11), with or without their h^2 terms (a measurement cannot confirm
    those), and 3 for (4)."""
    result = harness.check("quadratic_objective", rule, flow, gamma=GAMMA, points=2, expected_slope=expected)
    assert result.passed and abs(result.fit.slope - expected) < 0.15, (result.fit.slope, result.fit.reasons)


def test_cms_shadow_ode_is_one_order_short_on_nag():
    """A control: (10) lacks NAG's h hess f(X) X' damping."""
    result = harness.check("quadratic_objective", "nag_damped", f"{FRANCA}:classical_momentum", gamma=GAMMA,
                           points=2)
    assert result.fit.status == "FAIL" and abs(result.fit.slope - 3) < 0.15, result.fit.slope


def test_gamma_is_traced_labelled_and_refused_elsewhere():
    assert Scheme("nag_damped", options={"gamma": 0.5}).param_values.gamma == 0.5
    assert Scheme("heavy_ball_sc", mu=0.5).param_values.gamma == 0.0
    assert Scheme("heavy_ball_damped", options={"gamma": 1.5}).label == "heavy_ball_damped(lr1=1, lr2=1, gamma=1.5)"
    with pytest.raises(RuleError, match="gamma must be a finite number >= 0 for nag_damped"):
        Scheme("nag_damped", options={"gamma": -1.0})
    with pytest.raises(RuleError, match="gamma applies to heavy_ball_damped and nag_damped only, not 'nag_sc'"):
        Scheme("nag_sc", options={"gamma": 0.5})


def test_command_line_and_matrix(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "check", "--game", "quadratic_objective", "--scheme", "nag_damped", "--gamma",
                           "3", "--flow", f"{FRANCA}:nesterov", "--points", "2")
    assert code == 0 and "nag_damped(lr1=1, lr2=1, gamma=3)" in out
    # the flow names the keyword gamma and receives the rule's: at gamma = 2 (not its default 3) it still passes
    code, out, _ = run_cli(capsys, "check", "--game", "quadratic_objective", "--scheme", "nag_damped", "--gamma",
                           "2", "--flow", f"{FRANCA}:nesterov", "--points", "2")
    assert code == 0 and "nag_damped(lr1=1, lr2=1, gamma=2)" in out, out
    matrix = tmp_path / "m.toml"
    matrix.write_text('[[check]]\ngames = ["rosenbrock"]\nscheme = "heavy_ball_damped"\ngamma = 0.25\n'
                      f'flows = ["{FRANCA.as_posix()}:low_resolution"]\n')
    _, (spec,) = load_matrix(matrix)
    assert spec.scheme.value("gamma") == 0.25 and spec.scheme.params.gamma == 0.25
    assert Scheme(**spec.scheme.to_dict()) == spec.scheme
