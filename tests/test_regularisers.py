"""Explicit regularisers (Rosca et al. 2021 §6, docs/theory.md §5 item 9): the regularised update with cancelled
interaction terms and/or strengthened self terms, its closed-form modified flows, and the measured slopes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harness import Game, GameError
from harness.base.bea import modified_field
from harness.checks import CheckSpec, Settings, run_check
from harness.flows import Flow, flow_coefficients, flow_field
from harness.rules.schemes import Scheme, update_map

C = 1.7
VARIANTS = [
    Scheme("regularised", 0.6, 1.3),
    Scheme("regularised", 0.6, 1.3, strengthen=1.0),
    Scheme("regularised", 0.6, 1.3, cancel=0.0, strengthen=0.5),
    Scheme("regularised", 0.6, 1.3, cancel=0.5, strengthen=-0.3),
    Scheme("regularised", 0.6, 1.3, convention="official"),
]


def nonlinear_game():
    l1 = lambda p, t: jnp.sum(jnp.sin(p) * t[0]) + 0.3 * p @ p * t[1] ** 2  # noqa: E731
    l2 = lambda p, t: jnp.log1p(jnp.exp(p[0] * t[1])) + 0.2 * jnp.cos(t[0] + p[1])  # noqa: E731
    return Game("n", l1, l2, [0.4, -0.7], [0.9, 0.3])


def test_step_on_a_bilinear_game():
    """E = c phi theta: f_theta g = -c^2 phi, g_phi f = -c^2 theta, no self terms; so
    phi' = phi + a h (-c theta - (rho_1 h/2) c^2 phi), theta' = theta + l h (c phi - (rho_2 h/2) c^2 theta)."""
    game = Game("b", lambda p, t: C * p[0] * t[0], lambda p, t: -C * p[0] * t[0], [0.8], [-0.6])
    z, h = jnp.array([0.8, -0.6]), 0.1
    for scheme in VARIANTS:
        a, l = scheme.lr1, scheme.lr2
        r1, r2 = scheme.interaction_rates
        expected = [0.8 + a * h * (C * 0.6 - r1 * h / 2 * C**2 * 0.8),
                    -0.6 + l * h * (C * 0.8 + r2 * h / 2 * C**2 * 0.6)]
        np.testing.assert_allclose(update_map(game, scheme.structure)(z, h, scheme.params), expected, rtol=1e-15)


def test_step_strengthens_the_self_terms_as_an_explicit_regulariser():
    """For a gradient game the mu term is the gradient of L1 + mu (a h/4) |grad_phi L1|^2 (and likewise for L2)."""
    game, scheme, h = nonlinear_game(), Scheme("regularised", 0.6, 1.3, cancel=0.0, strengthen=0.7), 0.05
    l1, l2 = game.loss1, game.loss2
    reg1 = lambda p, t: l1(p, t) + 0.7 * 0.6 * h / 4 * jnp.sum(jax.grad(l1, 0)(p, t) ** 2)  # noqa: E731
    reg2 = lambda p, t: l2(p, t) + 0.7 * 1.3 * h / 4 * jnp.sum(jax.grad(l2, 1)(p, t) ** 2)  # noqa: E731
    phi, theta = jnp.asarray(game.phi0), jnp.asarray(game.theta0)
    expected = jnp.concatenate([phi - 0.6 * h * jax.grad(reg1, 0)(phi, theta),
                                theta - 1.3 * h * jax.grad(reg2, 1)(phi, theta)])
    got = update_map(game, scheme.structure)(jnp.asarray(game.z0), h, scheme.params)
    np.testing.assert_allclose(got, expected, rtol=1e-14)


@pytest.mark.parametrize("scheme", VARIANTS, ids=lambda s: s.label)
def test_closed_form_flow_equals_bea_1(scheme):
    """c = [[(1+mu) a, l - rho_1], [a - rho_2, (1+mu) l]] against the automatic first-order flow."""
    game, h = nonlinear_game(), 0.05
    z = jnp.asarray(game.z0)
    automatic = modified_field(update_map(game, scheme.structure), 1)(z, h, scheme.params)
    closed = flow_field(game, Flow("modified"), scheme)(z, h)
    assert float(jnp.max(jnp.abs(automatic - closed)) / jnp.max(jnp.abs(closed))) <= 1e-12


def test_coefficients():
    a, l = 0.6, 1.3
    np.testing.assert_allclose(flow_coefficients(Flow("modified"), Scheme("regularised", a, l))[1],
                               [[a, 0], [0, l]])
    np.testing.assert_allclose(flow_coefficients(Flow("modified"), Scheme("regularised", a, l, strengthen=1.0))[1],
                               [[2 * a, 0], [0, 2 * l]])
    official = Scheme("regularised", a, l, convention="official")
    np.testing.assert_allclose(flow_coefficients(Flow("modified"), official)[1], [[a, l - a], [a - l, l]])
    np.testing.assert_allclose(flow_coefficients(Flow("official"), official)[1], [[a, 0], [0, l]])


SLOPES = [
    (Scheme("regularised", 1.0, 0.3), "modified", 3.0),
    (Scheme("regularised", 0.4, 1.5, strengthen=1.0), "modified", 3.0),
    (Scheme("regularised", 0.4, 1.5, cancel=0.0, strengthen=2.0), "modified", 3.0),
    (Scheme("regularised", 0.4, 1.5, strengthen=1.0), "gradient", 2.0),
    (Scheme("regularised", 1.0, 1.0, convention="official"), "official", 3.0),
    (Scheme("regularised", 1.0, 0.3, convention="official"), "official", 2.0),
    (Scheme("regularised", 1.0, 0.3, convention="official"), "modified", 3.0),
]


@pytest.mark.parametrize("scheme, flow, slope", SLOPES, ids=[f"{s.label}-{f}" for s, f, _ in SLOPES])
def test_measured_slopes(games, scheme, flow, slope):
    """Item 9 on the nonlinear Dirac-GAN: slope 3 against the self-terms-only flow for any rates and with the self
    terms strengthened; with the official code's own-rate coefficient the interaction terms cancel only when
    alpha = lambda (slope 2 against the self-terms-only flow otherwise, 3 against the flow that keeps them)."""
    result = run_check(games["dirac_gan"], CheckSpec("dirac_gan", scheme, Flow(flow), slope), Settings())
    assert result.fit.status == "PASS" and abs(result.fit.slope - slope) < 0.15


def test_parameters_are_validated_and_kept_out_of_other_rules():
    with pytest.raises(GameError, match="strengthen applies to regularised only"):
        Scheme("simultaneous", strengthen=1.0)
    with pytest.raises(GameError, match="convention must be"):
        Scheme("regularised", convention="mine")
    with pytest.raises(GameError, match="strengthen must be a finite number"):
        Scheme("regularised", strengthen=float("nan"))
    assert "cancel" not in Scheme("simultaneous").to_dict()
    assert Scheme("regularised", strengthen=1.0).to_dict()["strengthen"] == 1.0
    assert Scheme("regularised").label == "regularised(lr1=1, lr2=1)"
    assert "strengthen=1" in Scheme("regularised", strengthen=1.0).label
