"""Drift decomposition (harness.measure.drift): self and interaction terms of the first-order drift, both
conventions."""

import jax.numpy as jnp
import numpy as np
import pytest

from harness import Game
from harness.flows import Flow, flow_field
from harness.measure.drift import TERMS, drift_along, drift_sizes, drift_terms
from harness.rules.schemes import Scheme

C = 1.7


def nonlinear_game():
    l1 = lambda p, t: jnp.sum(jnp.sin(p) * t[0]) + 0.3 * p @ p * t[1] ** 2  # noqa: E731
    l2 = lambda p, t: jnp.log1p(jnp.exp(p[0] * t[1])) + 0.2 * jnp.cos(t[0] + p[1])  # noqa: E731
    return Game("n", l1, l2, [0.4, -0.7], [0.9, 0.3])


@pytest.mark.parametrize("scheme", [Scheme("simultaneous", 0.6, 1.4), Scheme("alternating", 0.6, 1.4, 2, 3),
                                    Scheme("alternating", 1.0, 0.3, first="theta"), Scheme("regularised", 0.5, 1.2)])
@pytest.mark.parametrize("flow", ["modified", "official"])
def test_terms_add_up_to_the_flows_drift(scheme, flow):
    """self + interaction terms = the flow's field minus the gradient flow's, per player."""
    game, h = nonlinear_game(), 0.07
    z = jnp.asarray(game.z0)
    drift = np.asarray(flow_field(game, Flow(flow), scheme)(z, h) - flow_field(game, Flow("gradient"), scheme)(z, h))
    terms = drift_terms(game, Flow(flow), scheme, game.z0, h)
    assert [v.shape for v in terms.values()] == [(2,), (2,), (2,), (2,)]
    total = np.concatenate([terms[TERMS[0]] + terms[TERMS[1]], terms[TERMS[2]] + terms[TERMS[3]]])
    np.testing.assert_allclose(total, drift, rtol=1e-13, atol=1e-17)


@pytest.mark.parametrize("a, l", [(1.0, 1.0), (0.4, 1.5)])
def test_bilinear_closed_forms(a, l):
    """E = c phi theta: no self terms; the interaction terms of simultaneous GD are (a l h c^2/2)(phi, theta) in the
    joint convention and (h c^2/2)(a^2 phi, l^2 theta) in the official one."""
    game = Game("b", lambda p, t: C * p[0] * t[0], lambda p, t: -C * p[0] * t[0], [0.8], [-0.6])
    h, phi, theta = 0.05, 0.8, 0.6
    joint = drift_sizes(game, Flow("modified"), Scheme("simultaneous", a, l), game.z0, h)
    official = drift_sizes(game, Flow("official"), Scheme("simultaneous", a, l), game.z0, h)
    assert joint[TERMS[0]] == 0 and joint[TERMS[2]] == 0
    assert joint[TERMS[1]] == pytest.approx(a * l * h * C**2 / 2 * phi, rel=1e-14)
    assert joint[TERMS[3]] == pytest.approx(a * l * h * C**2 / 2 * theta, rel=1e-14)
    assert official[TERMS[1]] == pytest.approx(a * a * h * C**2 / 2 * phi, rel=1e-14)
    assert official[TERMS[3]] == pytest.approx(l * l * h * C**2 / 2 * theta, rel=1e-14)


def test_regularised_update_has_no_interaction_terms_and_strengthened_self_terms():
    game, h = nonlinear_game(), 0.05
    plain = drift_sizes(game, Flow("modified"), Scheme("simultaneous", 0.6, 1.4), game.z0, h)
    cancelled = drift_sizes(game, Flow("modified"), Scheme("regularised", 0.6, 1.4, strengthen=0.5), game.z0, h)
    assert cancelled[TERMS[1]] == 0 and cancelled[TERMS[3]] == 0
    for term in (TERMS[0], TERMS[2]):
        assert cancelled[term] == pytest.approx(1.5 * plain[term], rel=1e-14)


def test_drift_along_a_path():
    game, scheme, h = nonlinear_game(), Scheme("alternating", 0.6, 1.4), 0.05
    path = np.vstack([game.z0, game.z0 + 0.1, game.z0 - 0.2])
    along = drift_along(game, scheme, path, h)
    assert set(along.sizes) == {"modified", "official"}
    for flow in along.sizes:
        assert set(along.sizes[flow]) == set(TERMS)
        for i, z in enumerate(path):
            sizes = drift_sizes(game, Flow(flow), scheme, z, h)
            for term in TERMS:
                assert along.sizes[flow][term][i] == pytest.approx(sizes[term], rel=1e-14)
