"""Conserved quantities (harness.measure.invariants): docs/theory.md §5 item 7's Q, measured along iterates and
flows."""

import jax.numpy as jnp
import numpy as np
import pytest

from harness import Game, GameError
from harness.flows import Flow
from harness.measure.invariants import declared, evaluate, flow_samples, invariant_drift, iterates
from harness.rules.schemes import Scheme

C = 1.7


def q(phi, theta, alpha, lam, h):
    return phi[0] ** 2 / alpha + theta[0] ** 2 / lam - h * C * phi[0] * theta[0]


def energy(phi, theta, alpha, lam, h):
    return phi[0] ** 2 / alpha + theta[0] ** 2 / lam


def bilinear(**metadata):
    return Game("b", lambda p, t: C * p[0] * t[0], lambda p, t: -C * p[0] * t[0], [1.0], [0.5], **metadata)


def test_alternating_gd_conserves_q_to_round_off():
    """Q = phi^2/alpha + theta^2/lambda - h c phi theta over 1000 alternating steps: drift ~1e-15 |Q|; the first-order
    modified flow conserves it too (its Jacobian J makes S J antisymmetric for Q = z^T S z); the gradient flow
    does not (it conserves phi^2/alpha + theta^2/lambda instead)."""
    game, scheme, h = bilinear(invariants={"Q": q, "E": energy}), Scheme("alternating", 0.4, 1.5), 0.3
    drift = invariant_drift(game, "Q", scheme, h, 1000)
    assert drift.initial == pytest.approx(1 / 0.4 + 0.25 / 1.5 - h * C * 0.5)
    assert drift.iterates <= 1e-13 * abs(drift.initial)
    assert drift.flows["modified"] <= 1e-13 * abs(drift.initial)
    assert drift.flows["gradient"] > 0.1
    assert invariant_drift(game, "E", scheme, h, 200, flows=("gradient",)).flows["gradient"] <= 1e-13


def test_simultaneous_gd_does_not_conserve_q():
    """rho = sqrt(1 + a l h^2 c^2): Q grows like rho^(2n)."""
    game, scheme, h = bilinear(invariants={"Q": q}), Scheme("simultaneous", 0.4, 1.5), 0.3
    drift = invariant_drift(game, "Q", scheme, h, 50, flows=())
    growth = (1 + 0.4 * 1.5 * h**2 * C**2) ** 50
    assert drift.iterates > 0.1 * growth * abs(drift.initial)


def test_catalog_declares_q_on_the_bilinear_dirac_gan(games):
    game = games["dirac_gan_bilinear"]
    assert set(declared(game)) == {"Q"}
    drift = invariant_drift(game, "Q", Scheme("alternating", 1.0, 0.3), 0.5, 500, flows=())
    assert drift.iterates <= 1e-13 * abs(drift.initial)


def test_paths_start_at_z0_and_flows_follow_the_reference_solution():
    game, scheme, h = bilinear(), Scheme("simultaneous"), 0.1
    path = iterates(game, scheme, h, 3)
    assert path.shape == (4, 2)
    np.testing.assert_array_equal(path[0], game.z0)
    np.testing.assert_allclose(path[1], game.z0 + h * np.array([-C * 0.5, C * 1.0]), rtol=1e-15)
    flow = flow_samples(game, Flow("gradient"), scheme, h, 2, z0=np.array([1.0, 0.0]))
    np.testing.assert_allclose(flow[2], [np.cos(2 * h * C), np.sin(2 * h * C)], rtol=1e-13)


def test_bad_invariants_are_one_line_errors():
    with pytest.raises(GameError, match="invariants must be a dict"):
        declared(bilinear(invariants=[q]))
    with pytest.raises(GameError, match="declares no invariant 'P'"):
        evaluate(bilinear(invariants={"Q": q}), "P", np.zeros((1, 2)), Scheme(), 0.1)
    with pytest.raises(GameError, match="must return a scalar"):
        evaluate(bilinear(invariants={"V": lambda p, t, a, l, h: jnp.concatenate([p, t])}), "V", np.zeros((2, 2)),
                 Scheme(), 0.1)
    with pytest.raises(GameError, match="one-step update rule"):
        iterates(bilinear(), Scheme("ogda"), 0.1, 3)
