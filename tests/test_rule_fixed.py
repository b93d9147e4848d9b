"""heavy_ball_fixed and nag_fixed (harness/rules/heavy_ball_fixed.py, nag_fixed.py): heavy ball and Nesterov with a
fixed momentum beta as two-step methods with time step s, checked against second-order ODEs by the two-step
residual; a flow's ``initial_velocity``; Kovachki & Stuart's ODE (literature/kovachki_stuart_2021_ode.py) on its
slow manifold, and what a start off it reads."""

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from test_reliability import run_cli

import harness
from harness import FlowError
from harness.checks import load_matrix
from harness.flows import Flow
from harness.measure.two_step import measure_two_step_residual, step_sizes
from harness.model.catalog import load_file
from harness.rules import RULES
from harness.rules.schemes import Scheme

ODE = Path(__file__).resolve().parents[1] / "literature" / "kovachki_stuart_2021_ode.py"
KS = load_file(str(ODE))


def V(x):
    return -jnp.stack([x[0] ** 3 + x[1], x[1] ** 3 + x[0] + 4 * x[1]])


@pytest.mark.parametrize("beta, s", [(0.0, 0.01), (0.5, 0.01), (0.9, 0.0004)])
def test_the_steps_are_heavy_ball_and_sutskevers_nesterov(beta, s):
    """heavy_ball_fixed is heavy_ball's lifted step with h = s; nag_fixed is v' = beta v + s V(x + beta v),
    x' = x + v' with v = x - x_prev."""
    x, x_prev = jnp.array([0.6, -0.3]), jnp.array([0.58, -0.27])
    game = harness.single_objective("quartic", lambda z: jnp.sum(z ** 4) / 4 + z[0] * z[1] + 2 * z[1] ** 2,
                                    x0=[0.6, -0.3])
    lifted = RULES["heavy_ball"].step(game, ("heavy_ball",))(jnp.concatenate([x, x_prev]), s,
                                                            Scheme("heavy_ball", beta=beta).params)
    params = Scheme("heavy_ball_fixed", beta=beta).params
    stepped = RULES["heavy_ball_fixed"].advance(V, x, x_prev, s, 1.0, params)
    np.testing.assert_allclose(np.asarray(stepped), np.asarray(lifted[:2]), rtol=0, atol=1e-15)
    v = x - x_prev
    sutskever = x + beta * v + s * V(x + beta * v)
    stepped = RULES["nag_fixed"].advance(V, x, x_prev, s, 1.0, Scheme("nag_fixed", beta=beta).params)
    np.testing.assert_allclose(np.asarray(stepped), np.asarray(sutskever), rtol=0, atol=1e-15)


def _slow_root(H, a, beta):
    """P with a P^2 + P + H / (1 - beta) = 0 on the slow roots (eigenvalue by eigenvalue of H)."""
    lam, Q = np.linalg.eigh(H)
    return Q @ np.diag((-1 + np.sqrt(1 - 4 * a * lam / (1 - beta))) / (2 * a)) @ Q.T


def test_the_residual_equals_its_closed_form_on_a_quadratic():
    """quadratic_objective, heavy ball at beta = 0.5: the ODE a X'' + X' = -(H X + b) / (1 - beta) started exactly
    on its slow manifold (X' = P (X + H^-1 b)) is solved by expm of the augmented system; the measured residual
    with time step tau = s matches |X(s) - step(X(0), X(-s))| to 1e-8 relative (steps below the s where
    4 a |H| / (1 - beta) reaches 1 and the slow root turns complex)."""
    from harness.games.quadratic_objective import B, H

    game, beta = harness.load("quadratic_objective"), 0.5
    H, B = np.asarray(H), np.asarray(B)

    def exact_start(V, x, s, *, beta):
        a = KS.heavy_ball_a(s, beta)
        lam, Q = jnp.linalg.eigh(jnp.asarray(H))
        P = Q @ jnp.diag((-1 + jnp.sqrt(1 - 4 * a * lam / (1 - beta))) / (2 * a)) @ Q.T
        return P @ (x + jnp.linalg.solve(jnp.asarray(H), jnp.asarray(B)))

    @harness.flow(order=1, name="heavy ball ODE, exact slow start", initial_velocity=exact_start)
    def ode(V, x, v, t, s, *, beta):
        return KS.heavy_ball(V, x, v, t, s, beta=beta)

    taus = np.array([2e-4, 6e-4, 2e-3])
    measured = measure_two_step_residual(game, Scheme("heavy_ball_fixed", beta=beta), Flow.of(ode), taus,
                                         game.z0[None, :])
    x0 = np.asarray(game.z0)
    for j, s in enumerate(taus):
        a = KS.heavy_ball_a(s, beta)
        system = np.zeros((7, 7))  # (X, X', 1)' = [[0, I, 0], [-H / (a (1 - beta)), -I / a, -b / (a (1 - beta))], 0]
        system[:3, 3:6] = np.eye(3)
        system[3:6, :3], system[3:6, 3:6] = -H / (a * (1 - beta)), -np.eye(3) / a
        system[3:6, 6] = -B / (a * (1 - beta))
        y0 = np.concatenate([x0, _slow_root(H, a, beta) @ (x0 + np.linalg.solve(H, B)), [1.0]])
        plus, minus = (scipy.linalg.expm(sign * s * system) @ y0 for sign in (1, -1))
        step = x0 + beta * (x0 - minus[:3]) - s * (H @ x0 + B)
        exact = np.linalg.norm(plus[:3] - step)
        assert measured.errors[0, j] == pytest.approx(exact, rel=1e-8)
        assert measured.reference_error[0, j] < 1e-4 * exact  # the reference's estimate is at round-off here


def test_the_slow_velocity_is_accurate_to_a_to_the_4():
    """Three fixed-point iterations give the slow root's velocity to O(a^4): halving a divides the error by 16."""
    from harness.games.quadratic_objective import B, H

    H, B, x = jnp.asarray(H), jnp.asarray(B), jnp.array([1.0, -0.5, 0.25])

    def field(z):
        return -(H @ z + B)

    errors = []
    for a in (4e-4, 2e-4):
        exact = jnp.asarray(_slow_root(np.asarray(H), a, 0.5)) @ (x + jnp.linalg.solve(H, B))
        errors.append(float(jnp.linalg.norm(KS.slow_velocity(field, x, a, 0.5) - exact)))
    assert np.log2(errors[0] / errors[1]) == pytest.approx(4, abs=0.1), errors


@harness.flow(order=1, name="heavy ball ODE from the velocity V(x)")
def from_gradient_velocity(V, x, v, t, s, *, beta):
    return KS.heavy_ball(V, x, v, t, s, beta=beta)


def _one_iteration(V, x, s, *, beta):
    return KS.slow_velocity(V, x, KS.heavy_ball_a(s, beta), beta, iterations=1)


@harness.flow(order=1, name="heavy ball ODE from u to O(a^2)", initial_velocity=_one_iteration)
def from_one_iteration(V, x, v, t, s, *, beta):
    return KS.heavy_ball(V, x, v, t, s, beta=beta)


@pytest.mark.parametrize("rule, flow, expected", [
    ("heavy_ball_fixed", f"{ODE}:heavy_ball", 3), ("nag_fixed", f"{ODE}:nesterov", 3),
    ("nag_fixed", f"{ODE}:heavy_ball", 2), ("heavy_ball_fixed", f"{ODE}:nesterov", 2),
    ("heavy_ball_fixed", from_gradient_velocity, 1), ("heavy_ball_fixed", from_one_iteration, 3),
])
def test_the_slope_in_s_follows_the_coefficient_and_the_start(rule, flow, expected):
    """Slope 3 in the time step s for each method's own a, 2 for the other's (they differ by s beta); from the
    velocity V(x) the fast mode is excited and the residual is O(s); u to O(a^2) already gives 3."""
    result = harness.check("quadratic_objective", rule, flow, beta=0.5, points=2, expected_slope=expected)
    assert result.passed and abs(result.fit.slope - expected) < 0.15, (result.fit.slope, result.fit.reasons)


def test_the_time_step_and_the_default_expectation():
    """tau = s (time_power 1): the largest step is 0.01 (1 - beta) / |dV/dx| and a resolution-1 ODE expects 3."""
    game = harness.load("rosenbrock")
    from harness.measure import jacobian_norm

    for beta in (0.5, 0.9):
        scheme = Scheme("heavy_ball_fixed", beta=beta)
        assert step_sizes(game, scheme, 3, 1.0)[-1] == pytest.approx(0.01 * (1 - beta) / jacobian_norm(game, scheme))
    spec = harness.checks.CheckSpec("rosenbrock", Scheme("nag_fixed", beta=0.5), Flow.of(f"{ODE}:nesterov"))
    assert spec.expected_slope == 3 and RULES["nag_fixed"].time_power == 1 and RULES["nag_sc"].time_power == 2


def test_an_initial_velocity_is_a_second_order_odes_and_has_the_notation_u_v_x_s():
    with pytest.raises(FlowError, match="states an initial_velocity, which only a second-order ODE"):
        Flow.of(harness.flow(order=1, initial_velocity=_one_iteration)(lambda V, z, h: V(z)))
    with pytest.raises(FlowError, match=r"initial_velocity of .* takes \(V, x\); write it as u\(V, x, s\) -> v"):
        Flow.of(harness.flow(order=1, initial_velocity=lambda V, x: V(x))(lambda V, x, v, t, s: V(x)))
    with pytest.raises(FlowError, match="initial_velocity must be a function"):
        harness.flow(order=1, initial_velocity=0.5)


def test_command_line_and_matrix(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "check", "--game", "quadratic_objective", "--scheme", "nag_fixed", "--beta",
                           "0.9", "--flow", f"{ODE}:nesterov", "--points", "2")
    assert code == 0 and "nag_fixed(lr1=1, lr2=1, beta=0.9)" in out, out
    matrix = tmp_path / "m.toml"
    matrix.write_text('[[check]]\ngames = ["rosenbrock"]\nscheme = "heavy_ball_fixed"\nbeta = 0.25\n'
                      f'flows = ["{ODE.as_posix()}:heavy_ball"]\n')
    _, (spec,) = load_matrix(matrix)
    assert spec.scheme.beta == 0.25 and spec.scheme.params.beta == 0.25 and spec.expected_slope == 3
    assert Scheme(**spec.scheme.to_dict()) == spec.scheme
