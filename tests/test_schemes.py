import jax
import jax.numpy as jnp
import numpy as np
import pytest

from harness import Game, GameError
from harness.base.bea import modified_coefficients
from harness.rules.schemes import Scheme, update_map, update_rule

A, B = np.array([[0.3, -1.0], [0.7, 0.2]]), np.array([[0.5], [-0.4]])


def linear_game():
    """f = -A phi - B theta, g = B^T phi - 0.1 theta (a linear vector-field game)."""
    return Game.from_fields(
        "lin", lambda p, t: -jnp.asarray(A) @ p - jnp.asarray(B) @ t, lambda p, t: jnp.asarray(B).T @ p - 0.1 * t,
        [1.0, -0.5], [0.8],
    )


def test_simultaneous_step():
    game, z, h = linear_game(), jnp.array([1.0, -0.5, 0.8]), 0.1
    step = update_rule(game, Scheme("simultaneous", 0.4, 1.5))
    f, g = np.split(np.asarray(game.field(z)), [2])
    expected = np.concatenate([z[:2] + 0.4 * h * f, z[2:] + 1.5 * h * g])
    np.testing.assert_allclose(step(z, h), expected, rtol=1e-15)


@pytest.mark.parametrize("first", ["phi", "theta"])
def test_alternating_substeps(first):
    game, h, (a, l, m, k) = linear_game(), 0.1, (0.4, 1.5, 2, 3)
    phi, theta = np.array([1.0, -0.5]), np.array([0.8])

    def move_phi(phi, theta):
        for _ in range(m):
            phi = phi + a * h / m * (-A @ phi - B @ theta)
        return phi

    def move_theta(phi, theta):
        for _ in range(k):
            theta = theta + l * h / k * (B.T @ phi - 0.1 * theta)
        return theta

    if first == "phi":
        phi = move_phi(phi, theta)
        theta = move_theta(phi, theta)
    else:
        theta = move_theta(phi, theta)
        phi = move_phi(phi, theta)
    step = update_rule(game, Scheme("alternating", a, l, m, k, first))
    np.testing.assert_allclose(step(jnp.array([1.0, -0.5, 0.8]), h), np.concatenate([phi, theta]), rtol=1e-14)


@pytest.mark.parametrize("scheme", [Scheme("simultaneous", 0.4, 1.5), Scheme("alternating", 0.4, 1.5),
                                    Scheme("alternating", 0.4, 1.5, 2, 3),
                                    Scheme("alternating", 0.4, 1.5, 3, 2, "theta")])
def test_one_traced_step_for_simultaneous_and_alternating(scheme):
    """The kernel structure of a two-player game traces m, k and the order: one compiled step gives every
    variant's own step (to round-off: the simultaneous step multiplies in another order), and its Taylor
    coefficients in h (harness.base.bea, through the loops and branches) are those of the unrolled step, which
    bea kernels use and simultaneous GD shares."""
    game, z, h = linear_game(), jnp.array([1.0, -0.5, 0.8]), 0.1
    own = update_rule(game, scheme)(z, h)
    assert scheme.kernel_structure(game, automatic=False) == ("two-player gd",)
    traced = jax.jit(update_map(game, ("two-player gd",)))
    np.testing.assert_allclose(traced(z, h, scheme.params), own, rtol=1e-15)
    unrolled = scheme.kernel_structure(game, automatic=True)
    assert unrolled == (scheme.structure if scheme.name == "alternating" else ("alternating", 1, 1, "phi"))
    np.testing.assert_allclose(update_map(game, unrolled)(z, h, scheme.params), own, rtol=1e-15)
    looped = modified_coefficients(update_map(game, ("two-player gd",)), 3)(z, scheme.params)
    expanded = modified_coefficients(update_map(game, unrolled), 3)(z, scheme.params)
    assert np.max(np.abs(looped[1:])) > 0.01  # the rule has h^1 ... h^3 terms to compare
    np.testing.assert_allclose(looped, expanded, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="adam"), "unknown scheme"),
        (dict(lr1=0.0), "lr1"),
        (dict(lr2=-1.0), "lr2"),
        (dict(lr1=float("nan")), "lr1"),
        (dict(name="alternating", m=0), "m must"),
        (dict(name="alternating", k=1.5), "k must"),
        (dict(m=2), "m applies to alternating and user only, not .simultaneous."),
        (dict(options={"zeta": 1.0}), "unknown rule option .zeta."),
    ],
)
def test_bad_scheme_parameters(kwargs, message):
    with pytest.raises(GameError, match=message):
        Scheme(**kwargs)
