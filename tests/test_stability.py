"""Linear stability at equilibria (harness.measure.stability) against closed forms: docs/theory.md §5 items 7 and 8."""

import numpy as np
import pytest

from harness import Game, GameError
from harness.flows import Flow
from harness.measure.stability import (
    analyse,
    flow_jacobian,
    map_grid,
    spectral_radii,
    spectral_radius,
    stability_map,
    update_jacobian,
)
from harness.rules.schemes import Scheme

C = 1.7


def bilinear():
    return Game("b", lambda p, t: C * p[0] * t[0], lambda p, t: -C * p[0] * t[0], [1.0], [0.5],
                equilibrium=[0.0, 0.0])


@pytest.mark.parametrize("a, l, h", [(1.0, 1.0, 0.1), (0.4, 1.5, 0.3), (2.0, 0.3, 0.05)])
def test_bilinear_spectral_radii_and_traces(a, l, h):
    """Item 7: rho_sim = sqrt(1 + a l h^2 c^2); det M_alt = 1, rho_alt = 1; traces of the flows' Jacobians:
    simultaneous joint a l h c^2, official (h/2) c^2 (a^2 + l^2); alternating joint 0, official
    (h/2) c^2 (a - l)^2 (not docs/theory.md's (h/2) c^2 (l - a))."""
    game, x = bilinear(), a * l * h**2 * C**2
    sim = analyse(game, Scheme("simultaneous", a, l), h)
    assert sim.radius == pytest.approx(np.sqrt(1 + x), rel=1e-15) and sim.behaviour == "diverges"
    assert sim.flows["gradient"].trace == 0 and sim.flows["gradient"].prediction == "cycles"
    assert sim.flows["modified"].trace == pytest.approx(a * l * h * C**2, rel=1e-14)
    assert sim.flows["official"].trace == pytest.approx(h / 2 * C**2 * (a**2 + l**2), rel=1e-14)
    alt = analyse(game, Scheme("alternating", a, l), h)
    assert alt.determinant == pytest.approx(1.0, abs=1e-15)
    assert abs(alt.radius - 1) <= 1e-15 and alt.behaviour == "cycles"
    assert abs(alt.flows["modified"].trace) <= 1e-15 and alt.flows["modified"].prediction == "cycles"
    official = alt.flows["official"].trace
    assert official == pytest.approx(h / 2 * C**2 * (a - l) ** 2, rel=1e-13, abs=1e-16)
    if a != l:
        assert official > 0 and alt.flows["official"].prediction == "diverges"
        assert abs(official - h / 2 * C**2 * (l - a)) > 1e-3


def test_simultaneous_diverges_for_every_h_and_alternating_cycles_below_the_bound():
    """Item 7 over step sizes: rho_sim > 1 always; rho_alt = 1 while a l h^2 c^2 < 4, > 1 beyond."""
    game, a, l = bilinear(), 0.4, 1.5
    steps = np.geomspace(1e-3, 10.0, 50) / (np.sqrt(a * l) * C)
    x = a * l * steps**2 * C**2
    sim = spectral_radii(game, Scheme("simultaneous", a, l), steps)
    np.testing.assert_allclose(sim, np.sqrt(1 + x), rtol=1e-15)
    assert np.all(sim > 1)
    alt = spectral_radii(game, Scheme("alternating", a, l), steps)
    assert np.max(np.abs(alt[x < 4] - 1)) <= 1e-14 and np.all(alt[x > 4] > 1 + 1e-3)
    assert spectral_radius(update_jacobian(game, Scheme("alternating", a, l), steps[7])) == pytest.approx(alt[7])


def test_rotational_game(games):
    """Item 8: eps = 0.09, h = 0.2: rho_sim = sqrt((1 - h eps)^2 + h^2) ~ 1.0022 (diverges), rho_alt = 1 - h eps =
    0.982 (converges); modified traces -2 eps + h - h eps^2 > 0 and -2 eps - h eps^2 < 0."""
    game, eps, h = games["rotational"], 0.09, 0.2
    sim, alt = analyse(game, Scheme("simultaneous"), h), analyse(game, Scheme("alternating"), h)
    assert sim.radius == pytest.approx(np.sqrt((1 - h * eps) ** 2 + h**2), rel=1e-15)
    assert round(sim.radius, 4) == 1.0022 and sim.behaviour == "diverges"
    assert alt.radius == pytest.approx(1 - h * eps, rel=1e-15) and alt.behaviour == "converges"
    assert sim.flows["modified"].trace == pytest.approx(-2 * eps + h - h * eps**2, rel=1e-13)
    assert alt.flows["modified"].trace == pytest.approx(-2 * eps - h * eps**2, rel=1e-13)
    assert sim.flows["modified"].prediction == "diverges" and alt.flows["modified"].prediction == "converges"
    assert sim.flows["gradient"].prediction == "converges"  # the gradient flow misses the divergence


def test_nonlinear_dirac_gan_linearises_to_c_one_half(games):
    """At the equilibrium (0, 0) the Dirac-GAN's field is bilinear with c = sigmoid(0) = 1/2."""
    game, a, l, h = games["dirac_gan"], 0.7, 1.3, 0.4
    sim = analyse(game, Scheme("simultaneous", a, l), h)
    assert sim.radius == pytest.approx(np.sqrt(1 + a * l * h**2 / 4), rel=1e-15)
    assert analyse(game, Scheme("alternating", a, l), h).behaviour == "cycles"


def test_stability_map_matches_the_closed_form_boundaries():
    """At h = 1 over (alpha, lambda): simultaneous diverges everywhere; alternating cycles iff a l c^2 < 4, and
    its joint modified flow predicts exactly that (eigenvalues +-sqrt(x^2/4 - a l c^2), x = a l c^2)."""
    game = bilinear()
    grid = map_grid(game, count=24)
    assert grid[-1] == pytest.approx(4 / C)
    sim = stability_map(game, Scheme("simultaneous"), grid, grid)
    assert np.all(sim.discrete == 2) and sim.agreement("modified") == 1.0 and sim.agreement("gradient") == 0.0
    alt = stability_map(game, Scheme("alternating"), grid, grid)
    x = np.outer(grid, grid) * C**2  # rows: lambda h, columns: alpha h
    np.testing.assert_array_equal(alt.discrete, np.where(x < 4, 1, 2))
    assert alt.agreement("modified") == 1.0
    off_diagonal = ~np.eye(grid.size, dtype=bool) & (x < 4)
    assert np.all(alt.flows["official"][off_diagonal] == 2)  # official: divergence wherever alpha != lambda


def test_multistep_rules_use_the_lifted_state():
    """OGDA's lifted map has the Jacobian [[I + 2hA, -hA], [I, 0]] on a linear field F(z) = A z."""
    game, h = bilinear(), 0.1
    jacobian = update_jacobian(game, Scheme("ogda"), h)
    a = np.array([[0.0, -C], [C, 0.0]])
    np.testing.assert_allclose(jacobian, np.block([[np.eye(2) + 2 * h * a, -h * a], [np.eye(2), np.zeros((2, 2))]]),
                               atol=1e-15)
    np.testing.assert_allclose(flow_jacobian(game, Flow("gradient"), Scheme("ogda"), h), a, atol=1e-15)


def test_bad_equilibria_are_one_line_errors(games):
    with pytest.raises(GameError, match="declares no equilibrium"):
        analyse(games["bilinear"], Scheme("simultaneous"), 0.1)
    with pytest.raises(GameError, match="is not an equilibrium"):
        analyse(bilinear(), Scheme("simultaneous"), 0.1, z_star=[1.0, 0.0])
    with pytest.raises(GameError, match="must be 2 finite numbers"):
        analyse(bilinear(), Scheme("simultaneous"), 0.1, z_star=[0.0])
    with pytest.raises(GameError, match="positive alpha h"):
        stability_map(bilinear(), Scheme("simultaneous"), np.array([0.0, 1.0]), np.array([1.0]))
    with pytest.raises(GameError, match="closed-form flows"):
        stability_map(bilinear(), Scheme("simultaneous"), np.array([1.0]), np.array([1.0]), flows=("bea:1",))
