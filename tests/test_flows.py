import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harness import Game, GameError
from harness.flows import Flow, flow_coefficients, flow_field
from harness.rules.schemes import Scheme

C = 1.7


def dirac_bilinear():
    return Game("b", lambda p, t: C * p[0] * t[0], lambda p, t: -C * p[0] * t[0], [1.0], [0.5])


def nonlinear_game():
    l1 = lambda p, t: jnp.sum(jnp.sin(p) * t[0]) + 0.3 * p @ p * t[1] ** 2  # noqa: E731
    l2 = lambda p, t: jnp.log1p(jnp.exp(p[0] * t[1])) + 0.2 * jnp.cos(t[0] + p[1])  # noqa: E731
    return Game("n", l1, l2, [0.4, -0.7], [0.9, 0.3]), l1, l2


@pytest.mark.parametrize("a, l", [(1.0, 1.0), (0.4, 1.5)])
def test_bilinear_closed_forms(a, l):
    """E = c phi theta: f = -c theta, g = c phi (docs/theory.md §2 worked out by hand)."""
    game, z, h = dirac_bilinear(), jnp.array([0.8, -0.6]), 0.05
    phi, theta, c2 = 0.8, -0.6, C**2
    sim = flow_field(game, Flow("modified"), Scheme("simultaneous", a, l))(z, h)
    drift = a * l * h * c2 / 2
    np.testing.assert_allclose(sim, [-a * C * theta + drift * phi, l * C * phi + drift * theta], rtol=1e-14)
    alt = flow_field(game, Flow("modified"), Scheme("alternating", a, l))(z, h)
    np.testing.assert_allclose(alt, [-a * C * theta + drift * phi, l * C * phi - drift * theta], rtol=1e-14)
    official = flow_field(game, Flow("official"), Scheme("alternating", a, l))(z, h)
    np.testing.assert_allclose(
        official, [-a * C * theta + a * a * h * c2 / 2 * phi, l * C * phi + l * (l - 2 * a) * h * c2 / 2 * theta],
        rtol=1e-14)
    gradient = flow_field(game, Flow("gradient"), Scheme("simultaneous", a, l))(z, h)
    np.testing.assert_allclose(gradient, [-a * C * theta, l * C * phi], rtol=1e-15)


@pytest.mark.parametrize("m, k", [(1, 1), (2, 3)])
def test_alternating_matches_the_loss_form(m, k):
    """docs/theory.md §2: phi' = -a grad_phi[L1 + (a h/4m)|grad_phi L1|^2 + (l h/2)<grad_theta L1, sg grad_theta L2>]
    and theta' = -l grad_theta[L2 + (l h/4k)|grad_theta L2|^2 - (a h/2)<grad_phi L2, sg grad_phi L1>]."""
    game, l1, l2 = nonlinear_game()
    a, l, h = 0.7, 1.3, 0.04
    sg = jax.lax.stop_gradient
    g1p, g1t = jax.grad(l1, 0), jax.grad(l1, 1)
    g2p, g2t = jax.grad(l2, 0), jax.grad(l2, 1)

    def reg1(p, t):
        return l1(p, t) + a * h / (4 * m) * jnp.sum(g1p(p, t) ** 2) + l * h / 2 * g1t(p, t) @ sg(g2t(p, t))

    def reg2(p, t):
        return l2(p, t) + l * h / (4 * k) * jnp.sum(g2t(p, t) ** 2) - a * h / 2 * g2p(p, t) @ sg(g1p(p, t))

    phi, theta = jnp.array([0.3, -0.2]), jnp.array([1.1, -0.4])
    expected = jnp.concatenate([-a * jax.grad(reg1, 0)(phi, theta), -l * jax.grad(reg2, 1)(phi, theta)])
    got = flow_field(game, Flow("modified"), Scheme("alternating", a, l, m, k))(jnp.concatenate([phi, theta]), h)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_conventions_agree_iff_rates_are_equal():
    game, _, _ = nonlinear_game()
    z, h = jnp.asarray(game.z0), 0.05
    for name in ("simultaneous", "alternating"):
        same = Scheme(name, 0.8, 0.8)
        np.testing.assert_allclose(flow_field(game, Flow("official"), same)(z, h),
                                   flow_field(game, Flow("modified"), same)(z, h), rtol=1e-14)
        differ = Scheme(name, 0.8, 0.3)
        gap = flow_field(game, Flow("official"), differ)(z, h) - flow_field(game, Flow("modified"), differ)(z, h)
        assert np.max(np.abs(gap)) > 1e-3 * h


def test_phi_equation_is_shared_by_simultaneous_and_alternating():
    game, _, _ = nonlinear_game()
    z, h = jnp.asarray(game.z0), 0.05
    sim = flow_field(game, Flow("modified"), Scheme("simultaneous", 0.6, 1.4))(z, h)
    alt = flow_field(game, Flow("modified"), Scheme("alternating", 0.6, 1.4))(z, h)
    np.testing.assert_allclose(sim[:2], alt[:2], rtol=1e-14)
    assert np.max(np.abs(sim[2:] - alt[2:])) > 1e-3


def test_theta_first_is_the_mirror_image():
    _, c = flow_coefficients(Flow("modified"), Scheme("alternating", 0.6, 1.4, 2, 3, "theta"))
    np.testing.assert_allclose(c, [[0.3, -1.4], [0.6, 1.4 / 3]])
    _, c = flow_coefficients(Flow("official"), Scheme("alternating", 0.6, 1.4, 2, 3, "theta"))
    np.testing.assert_allclose(c, [[0.3, 0.6 - 2.8], [1.4, 1.4 / 3]])


def test_igr_on_a_single_objective():
    from harness import single_objective

    loss = lambda x: jnp.sum(x**4) + x[0] * x[1]  # noqa: E731
    game, a, h = single_objective("s", loss, [0.5, -1.0]), 0.7, 0.03
    regularised = lambda x: loss(x) + a * h / 4 * jnp.sum(jax.grad(loss)(x) ** 2)  # noqa: E731
    x = jnp.array([0.5, -1.0])
    for name in ("igr", "modified"):
        got = flow_field(game, Flow(name), Scheme("gd", a, 1.0))(x, h)
        np.testing.assert_allclose(got, -a * jax.grad(regularised)(x), rtol=1e-13)


def test_unknown_flow():
    with pytest.raises(GameError, match="unknown flow"):
        Flow("bea:9")
