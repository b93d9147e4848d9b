"""Second-order ODEs against two-step methods (harness.measure.two_step): the residual equals its closed form on a
quadratic, the slopes follow the resolution (p + 3 in sqrt(s)) and the time identification, and bad input
gets one line."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import harness
from harness.checks import CheckResult, CheckSpec, load_matrix
from harness.flows import Flow
from harness.measure.two_step import measure_two_step_residual, step_indices
from harness.model.game import GameError
from harness.rules.schemes import Scheme


@harness.flow(order=1, name="heavy ball HR-ODE")
def heavy_ball_hr(V, x, v, t, s, *, mu):
    return -2 * jnp.sqrt(mu) * v + (1 + jnp.sqrt(mu * s)) * V(x)


@harness.flow(order=0, name="low resolution")
def low_resolution(V, x, v, t, s, *, mu):
    return -2 * jnp.sqrt(mu) * v + V(x)


@harness.flow(order=1, name="NAG-C HR-ODE", time_offset=1.5)
def nag_c_hr(V, x, v, t, s):
    hessian_v = -jax.jvp(V, (x,), (v,))[1]
    return -3 / t * v - jnp.sqrt(s) * hessian_v + (1 + 3 * jnp.sqrt(s) / (2 * t)) * V(x)


@harness.flow(order=1, name="NAG-C HR-ODE at t = k sqrt(s)", time_offset=0.0)
def nag_c_unshifted(V, x, v, t, s):
    return nag_c_hr(V, x, v, t, s)


def test_the_residual_equals_its_closed_form_on_a_quadratic():
    """quadratic_objective (E = x'Hx/2 + b'x): the heavy-ball ODE is linear, solved exactly by expm of the
    augmented system; the measured residual matches |X(tau) - step(X(0), X(-tau))| to 1e-8 relative."""
    game = harness.load("quadratic_objective")
    from harness.games.quadratic_objective import B, H

    scheme, mu = Scheme("heavy_ball_sc", mu=0.5), 0.5
    taus = np.array([0.02, 0.05, 0.1])
    measured = measure_two_step_residual(game, scheme, Flow.of(heavy_ball_hr), taus, game.z0[None, :])
    H, B, x0 = np.asarray(H), np.asarray(B), np.asarray(game.z0)
    for j, tau in enumerate(taus):
        s = tau ** 2
        c = 1 + np.sqrt(mu * s)
        system = np.zeros((7, 7))  # (X, X', 1)' = [[0, I, 0], [-c H, -2 sqrt(mu) I, -c b], 0]
        system[:3, 3:6] = np.eye(3)
        system[3:6, :3], system[3:6, 3:6], system[3:6, 6] = -c * H, -2 * np.sqrt(mu) * np.eye(3), -c * B
        y0 = np.concatenate([x0, -(H @ x0 + B), [1.0]])
        plus, minus = (scipy.linalg.expm(sign * tau * system) @ y0 for sign in (1, -1))
        a = (1 - np.sqrt(mu * s)) / (1 + np.sqrt(mu * s))
        step = x0 + a * (x0 - minus[:3]) - s * (H @ x0 + B)
        exact = np.linalg.norm(plus[:3] - step)
        assert measured.errors[0, j] == pytest.approx(exact, rel=1e-8)
        assert measured.reference_error[0, j] < 1e-6 * exact


@pytest.mark.parametrize("scheme, flow, expected", [
    ("heavy_ball_sc", heavy_ball_hr, 4), ("heavy_ball_sc", low_resolution, 3), ("nag_sc", heavy_ball_hr, 3),
    ("nag_c", nag_c_hr, 4), ("nag_c", nag_c_unshifted, 3),
])
def test_the_slope_in_sqrt_s_follows_the_resolution_and_the_time_identification(scheme, flow, expected):
    mu = {"mu": 0.5} if scheme != "nag_c" else {}
    result = harness.check("rosenbrock", scheme, flow, points=2, expected_slope=expected, **mu)
    assert result.passed and abs(result.fit.slope - expected) < 0.15, (result.fit.slope, result.fit.reasons)


def test_the_default_expectation_is_the_resolution_plus_3():
    spec = CheckSpec("rosenbrock", Scheme("nag_c"), Flow.of(nag_c_hr))
    assert spec.expected_slope == 4.0 and CheckSpec("rosenbrock", Scheme("nag_sc", mu=1.0),
                                                    Flow.of(low_resolution)).expected_slope == 3.0


def test_nag_c_measures_near_one_time_at_every_step_size():
    game, scheme = harness.load("rosenbrock"), Scheme("nag_c")
    taus = np.array([0.001, 0.01, 0.05])
    for flow in (nag_c_hr, nag_c_unshifted):
        f = Flow.of(flow)
        times = (step_indices(game, scheme, f, taus) + f.user.time_offset) * taus
        assert np.ptp(times) <= taus.max() and np.all(step_indices(game, scheme, f, taus) >= 1)


def test_results_keep_the_rule_and_the_time_offset_through_json():
    result = harness.check("rosenbrock", "nag_c", nag_c_hr, points=2)
    entry = json.loads(json.dumps(result.to_dict()))
    assert entry["flow"]["second_order"] is True and entry["flow"]["time_offset"] == 1.5
    assert entry["scheme"]["name"] == "nag_c" and "mu" not in entry["scheme"]
    back = CheckResult.from_dict(entry)
    assert back.to_dict() == entry and back.spec.flow.second_order
    assert Scheme("nag_sc", mu=0.25).to_dict()["mu"] == 0.25


def test_a_matrix_entry_takes_mu(tmp_path):
    path = tmp_path / "matrix.toml"
    path.write_text('[[check]]\ngames = ["rosenbrock"]\nscheme = "nag_sc"\nmu = 0.25\n'
                    f'flows = ["{(tmp_path / "flows.py").as_posix()}:hr"]\n')
    (tmp_path / "flows.py").write_text("import harness\n\n@harness.flow(order=1)\ndef hr(V, x, v, t, s, *, mu):\n"
                                       "    return -2 * mu ** 0.5 * v + (1 + (mu * s) ** 0.5) * V(x)\n")
    _, specs = load_matrix(path)
    assert [s.scheme.label for s in specs] == ["nag_sc(lr1=1, lr2=1, mu=0.25)"]


@pytest.mark.parametrize("call, message", [
    (lambda: CheckSpec("rosenbrock", Scheme("nag_c"), Flow("gradient")), "nag_c is checked against second-order"),
    (lambda: CheckSpec("rosenbrock", Scheme("gd"), Flow.of(nag_c_hr)), "is checked against a two-step method"),
    (lambda: CheckSpec("rosenbrock", Scheme("nag_c"), Flow.of(nag_c_hr), measure="global"), "two-step residual"),
    (lambda: Scheme("nag_sc", mu=-1.0), "mu must be a finite number >= 0"),
    (lambda: Scheme("gd", mu=0.5), "mu applies to heavy_ball_sc and nag_sc only"),
    (lambda: Flow.of(harness.flow(order=1, time_offset=1.5)(lambda V, z, h: V(z))), "only a second-order ODE"),
])
def test_bad_input_gets_one_line(call, message):
    with pytest.raises(GameError, match=message):
        call()


def test_a_failed_check_is_explained_in_the_terms_of_the_two_step_residual():
    result = harness.check("rosenbrock", "nag_sc", heavy_ball_hr, mu=0.5, points=2)
    assert result.fit.status == "FAIL" and abs(result.fit.slope - 3) < 0.15
    assert "two-step residual O(tau^(p+3))" in harness.explain(result)
    assert "two-step method" in harness.diagnose(result).lines()[0]


def test_a_second_order_flow_that_returns_nan_is_named():
    @harness.flow(order=1)
    def broken(V, x, v, t, s):
        return V(x) * jnp.nan

    with pytest.raises(GameError, match="returned NaN at initial point 1"):
        harness.check("rosenbrock", "nag_c", broken, points=2)
