"""Every verdict's reason is right: steps outside the asymptotic range are named (and blamed on no kink),
a kink is claimed only when the refined quadrature confirms it, and impure losses are refused."""

import textwrap

import numpy as np
import pytest

import harness
from harness.measure import default_step_sizes, jacobian_norm
from harness.model.catalog import catalog
from harness.rules.schemes import Scheme


def reasons(result) -> str:
    return " | ".join(result.fit.reasons)


def test_a_smooth_game_at_huge_steps_is_outside_the_asymptotic_range_not_kinked():
    result = harness.check("dirac_gan", "simultaneous", "modified", h_max=10.0, points=2)
    text = reasons(result)
    assert "outside the asymptotic range" in text and "kink" not in text, text
    product = 10.0 * jacobian_norm(harness.load("dirac_gan"), Scheme())
    assert f"h |dF/dz| = {product:.3g}" in text
    assert "fooled by steps outside the asymptotic range" in text


def test_far_too_large_steps_name_the_product_and_the_default_h_max():
    game = harness.load("quadratic_objective")
    result = harness.check(game, "gd", "gradient", h_max=30.0, points=2)
    norm = jacobian_norm(game, Scheme("gd"))
    assert result.fit.status != "PASS"
    assert (f"the step sizes reach h |dF/dz| = {30 * norm:.3g} (> 1: outside the asymptotic range, where the order "
            f"theory does not hold); the default rule would use h_max = {0.1 / norm:.3g}") in result.fit.reasons
    assert 30 * norm > 100  # hundreds of times beyond the asymptotic range


def test_the_default_grid_is_inside_the_asymptotic_range():
    for name in ("dirac_gan", "quadratic_objective"):
        assert "asymptotic range" not in reasons(harness.check(name, flow="gradient", points=2))


@pytest.mark.parametrize("name", [n for n, g in catalog().items() if not g.metadata.get("large")])
def test_catalog_games_at_100_times_their_h_max_report_the_range_and_no_kink(name):
    game = catalog()[name]
    scheme = Scheme("gd" if game.kind == "single-objective" else "simultaneous")
    h_max = 100 * default_step_sizes(game, scheme)[-1]
    result = harness.check(game, scheme, "gradient", h_max=h_max, points=2)
    text = reasons(result)
    assert "outside the asymptotic range" in text and "kink" not in text, text


def test_a_genuine_kink_is_still_claimed_and_confirmed_by_the_refined_quadrature():
    import jax.numpy as jnp

    from harness.verdict.guards import _defects, _segments, non_smooth_reason

    relu = harness.Game.from_fields("relu", lambda p, t: -jnp.maximum(p - 0.02, 0.0) - 0.1 * t,
                                    lambda p, t: -t + 0.1 * p, [0.05], [1.0])
    scheme, points, steps = Scheme(), np.array([[0.05, 1.0]]), np.logspace(-2, -0.5, 6)
    reason = non_smooth_reason(relu, scheme, points, steps, jacobian_norm(relu, scheme))
    assert reason is not None and "kink" in reason
    starts, moves = _segments(relu, scheme, points, steps)
    coarse, fine = _defects(relu, starts, moves, "6 nodes"), _defects(relu, starts, moves, "4 x 6 nodes")
    crossing = coarse > 1e-3
    assert crossing.any() and np.all(fine[crossing] >= 0.5 * coarse[crossing])  # the jump does not shrink


GAME_FILE = '''
import random
from harness import Game

calls = []

def noisy(phi, theta):
    return (1.0 + random.random()) * phi[0] * theta[0]

def counting(phi, theta):
    calls.append(1)
    return len(calls) * phi[0] * theta[0]

def pure(phi, theta):
    return phi[0] * theta[0] + 0.1 * phi[0] ** 3

random_game = Game("random_game", noisy, lambda p, t: -noisy(p, t), [0.7], [0.4])
stateful_game = Game("stateful_game", counting, lambda p, t: -counting(p, t), [0.7], [0.4])
pure_game = Game("pure_game", pure, lambda p, t: -pure(p, t), [0.7], [0.4])
'''


@pytest.fixture
def game_file(tmp_path, monkeypatch):
    """GAME_FILE as games.py in the current folder."""
    (tmp_path / "games.py").write_text(textwrap.dedent(GAME_FILE))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "games.py"


@pytest.mark.parametrize("name", ["random_game", "stateful_game"])
def test_a_loss_that_is_not_a_pure_function_is_refused_in_one_line(game_file, cli, name):
    result = cli("check", "--game", f"games.py:{name}")  # the command line, in this process
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert f"game {name!r}: loss1 is not a pure function of (phi, theta): two evaluations at the same point " \
           "differ by" in lines[0]
    assert "remove Python/numpy randomness or global state" in lines[0]


def test_the_pure_loss_of_the_same_file_checks(game_file, cli):
    """The control of the refusals above: the same file's pure game passes (once, not once per refused game)."""
    pure = cli("check", "--game", "games.py:pure_game")
    assert pure.returncode == 0, pure.stderr


def test_a_default_state_at_an_equilibrium_is_left_out_in_one_note_without_warnings():
    import warnings

    def energy(p, t):
        return 0.5 * p[0] ** 2 + p[0] * t[0] - 0.3 * t[0] ** 2

    game = harness.Game("at_rest", energy, lambda p, t: -energy(p, t), [0.0], [0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy divide-by-zero warning
        result = harness.check(game, "simultaneous", "modified")
    assert result.passed and abs(result.fit.slope - 3) < 0.15
    assert result.measurement.points.shape[0] == 3 and np.any(result.measurement.points != 0, axis=1).all()
    assert result.fit.reasons[0] == ("the default state is an equilibrium: F(z0) = 0, the errors are exactly 0 "
                                     "there; measured from the other 3 initial points (move phi0/theta0 off it)")
    with pytest.raises(harness.GameError, match="every initial point is an equilibrium .* move phi0/theta0 off it"):
        harness.check(game, "simultaneous", "modified", points=1)
    assert not any("equilibrium" in r for r in harness.check("dirac_gan", points=2).fit.reasons)
