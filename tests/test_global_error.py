"""Global error at a fixed horizon: exact values on a linear problem, slopes 1 and 2 (docs/theory.md §5 item 6)."""

import jax.numpy as jnp
import numpy as np
import pytest

from harness import single_objective
from harness.checks import CheckSpec, Settings, run_check
from harness.cli import main
from harness.flows import Flow
from harness.measure import global_step_sizes, measure_global_error
from harness.model.catalog import load_game
from harness.model.game import GameError
from harness.rules.schemes import Scheme

A = 1.7


def test_global_error_equals_the_closed_form_on_a_scalar_quadratic():
    # GD on a z^2 / 2: z_N = (1 - h a)^N z0 against the gradient flow's exp(-a T) z0
    game = single_objective("scalar", lambda z: 0.5 * A * z @ z, x0=[0.8])
    points = np.array([[0.8], [-1.3]])
    measurement = measure_global_error(game, Scheme("gd"), Flow("gradient"), [0.01, 0.03, 0.1], points, 0.6)
    h, counts = measurement.step_sizes, measurement.update_steps
    np.testing.assert_array_equal(counts, [60, 20, 6])
    np.testing.assert_allclose(h * counts, 0.6, rtol=1e-15)
    exact = np.abs(((1 - h * A) ** counts - np.exp(-A * 0.6))[None, :] * points)
    np.testing.assert_allclose(measurement.errors, exact, rtol=1e-10)
    assert measurement.horizon == 0.6 and measurement.reference == "expm"


@pytest.mark.parametrize(("flow", "expected"), [("gradient", 1.0), ("modified", 2.0)])
def test_global_error_slopes_on_the_nonlinear_dirac_gan(flow, expected):
    spec = CheckSpec("dirac_gan", Scheme("alternating", 1.0, 0.3), Flow(flow), measure="global")
    assert spec.expected_slope == expected
    result = run_check(load_game("dirac_gan"), spec, Settings())
    assert result.fit.status == "PASS"
    assert abs(result.fit.slope - expected) < 0.05
    assert result.measurement.reference == "dopri8"
    document = result.to_dict()
    assert document["measure"] == "global"
    assert document["horizon"] == pytest.approx(document["step_sizes"][-1] * document["update_steps"][-1])


def test_global_step_sizes_are_whole_numbers_of_steps_and_bad_horizons_are_refused():
    h, counts = global_step_sizes(np.array([0.01, 0.033, 0.05, 0.1]), 1.0)
    np.testing.assert_array_equal(counts, [100, 31, 20, 10])
    np.testing.assert_allclose(h, 1.0 / counts)
    with pytest.raises(GameError, match="positive time"):
        global_step_sizes(np.array([0.1, 0.05, 0.01]), -1.0)
    with pytest.raises(GameError, match="distinct step counts"):
        global_step_sizes(np.array([0.1, 0.09, 0.08]), 0.1)
    with pytest.raises(GameError, match="horizon"):
        CheckSpec("dirac_gan", Scheme("simultaneous"), Flow("gradient"), horizon=1.0)


def test_cli_global_measure(capsys):
    assert main(["check", "--game", "rosenbrock", "--scheme", "gd", "--flow", "igr", "--measure", "global",
                 "--horizon", "0.02", "--quiet"]) == 0
    assert "igr · global" in capsys.readouterr().out
    assert main(["check", "--game", "rosenbrock", "--horizon", "1"]) == 2
    assert "--horizon goes with --measure global" in capsys.readouterr().err


def test_global_floor_grows_with_the_number_of_steps():
    game = single_objective("scalar", lambda z: 0.5 * A * z @ z, x0=[0.8])
    m = measure_global_error(game, Scheme("gd"), Flow("gradient"), [0.001, 0.01, 0.1], jnp.array([[1.0]]), 0.3)
    np.testing.assert_allclose(m.floor[0] / m.update_steps, m.floor[0, 0] / m.update_steps[0], rtol=0.2)


def test_global_errors_get_panels_of_their_own_in_the_report_figure():
    from harness.report.figures import plotted_checks

    game = load_game("rosenbrock")
    results = [run_check(game, CheckSpec("rosenbrock", Scheme("gd"), Flow(flow), measure=measure), Settings(points=2))
               for measure in ("local", "global") for flow in ("gradient", "igr")]
    panels = plotted_checks(results, "rosenbrock")
    assert list(panels) == ["gd", "gd (global error)"]
    assert [r.spec.measure for r in panels["gd (global error)"]] == ["global", "global"]


@pytest.mark.parametrize("horizon", [None, 0.3])
def test_a_global_check_round_trips_through_its_dict(horizon):
    from harness.checks import CheckResult

    spec = CheckSpec("rosenbrock", Scheme("gd"), Flow("igr"), measure="global", horizon=horizon)
    result = run_check(load_game("rosenbrock"), spec, Settings(points=1))
    entry = result.to_dict()
    assert entry["requested_horizon"] == horizon and entry["horizon"] == result.measurement.horizon > 0
    again = CheckResult.from_dict(entry, result.settings)
    assert again.spec == spec and again.to_dict() == entry
