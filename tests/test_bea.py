"""Automatic modified flows against numbers computed independently (docs/theory.md §2-3)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import harness
from harness import Game
from harness.base.bea import modified_coefficients, modified_field
from harness.base.compiler import jit
from harness.flows import Flow, flow_field
from harness.rules.schemes import Scheme, update_map
from harness.verdict.derivation import derive


def nonlinear_game():
    l1 = lambda p, t: jnp.sum(jnp.sin(p) * t[0]) + 0.3 * p @ p * t[1] ** 2 + jax.nn.softplus(p[0] * t[1])
    l2 = lambda p, t: jnp.log1p(jnp.exp(p[0] * t[1])) + 0.2 * jnp.cos(t[0] + p[1]) - p @ t
    return Game("n", l1, l2, [0.4, -0.7], [0.9, 0.3])


GAME = nonlinear_game()
Z, H = np.array([0.3, -0.2, 1.1, -0.4]), 0.05  # numpy: float64 whatever JAX's precision at import


def relative(a, b):
    return float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))


@pytest.mark.parametrize("scheme", [
    Scheme("simultaneous", 1.0, 1.0), Scheme("simultaneous", 0.4, 1.5),
    Scheme("alternating", 1.0, 0.3), Scheme("alternating", 0.4, 1.5, 2, 3),
    Scheme("alternating", 0.7, 1.2, 3, 1, "theta"), Scheme("extragradient", 0.6, 1.3),
    Scheme("regularised", 0.6, 1.3),
])
def test_order_one_equals_the_closed_form_flows(scheme):
    """Through the unrolled step and the step of the closed-form kernels, the error series and derive (for
    simultaneous and alternating GD its substep loops and player order are traced: Taylor mode goes through lax
    loops and branches)."""
    closed_form = flow_field(GAME, Flow("modified"), scheme)(Z, H)
    for structure in (scheme.structure, scheme.kernel_structure(GAME, automatic=False)):
        automatic = jit(modified_field(update_map(GAME, structure), 1))(Z, H, scheme.params)
        assert relative(automatic, closed_form) <= 1e-10


def test_regularised_update_has_only_self_terms():
    """§5 item 9: phi' = a f - (a^2 h/2) f_phi f, theta' = l g - (l^2 h/2) g_theta g."""
    a, l = 0.6, 1.3
    f = lambda z: GAME.field(z)[:2]
    g = lambda z: GAME.field(z)[2:]
    ff = jax.jvp(f, (Z,), (jnp.concatenate([f(Z), jnp.zeros(2)]),))[1]
    gg = jax.jvp(g, (Z,), (jnp.concatenate([jnp.zeros(2), g(Z)]),))[1]
    expected = jnp.concatenate([a * f(Z) - a * a * H / 2 * ff, l * g(Z) - l * l * H / 2 * gg])
    automatic = modified_field(update_map(GAME, ("regularised",)), 1)(Z, H, Scheme("regularised", a, l).params)
    assert relative(automatic, expected) <= 1e-10


def test_second_order_euler_term():
    """Simultaneous GD is Euler on F = (a f, l g): f_3 = F''(F, F)/12 + F'F'F/3."""
    params = Scheme("simultaneous", 0.8, 1.3).params
    F = lambda z: jnp.concatenate([jnp.full(2, 0.8), jnp.full(2, 1.3)]) * GAME.field(z)
    dF = lambda z, v: jax.jvp(F, (z,), (v,))[1]
    second = jax.jvp(lambda z: dF(z, F(Z)), (Z,), (F(Z),))[1]  # F''(F, F) at Z
    expected = second / 12 + dF(Z, dF(Z, F(Z))) / 3
    terms = modified_coefficients(update_map(GAME, ("simultaneous",)), 2)(Z, params)
    assert relative(terms[2], expected) <= 1e-10
    assert relative(terms[1], -0.5 * dF(Z, F(Z))) <= 1e-12


def _log_series(matrices, order):
    """Coefficients of h^1..h^(order+1) of log(M(h)) for M(h) = sum_i matrices[i] h^i, M(0) = I, by the
    series log(I + X) = sum_k (-1)^(k+1) X^k / k on matrix polynomials truncated at h^(order+1)."""
    n, top = matrices[0].shape[0], order + 1
    x = [np.zeros((n, n))] + [matrices[i] if i < len(matrices) else np.zeros((n, n)) for i in range(1, top + 1)]
    power, total = [np.eye(n)] + [np.zeros((n, n))] * top, [np.zeros((n, n)) for _ in range(top + 1)]
    for k in range(1, top + 1):
        power = [sum(power[j] @ x[i - j] for j in range(i + 1)) for i in range(top + 1)]
        for i in range(top + 1):
            total[i] = total[i] + (-1) ** (k + 1) / k * power[i]
    return total[1:]


@pytest.mark.parametrize("scheme", [Scheme("simultaneous", 0.7, 1.4), Scheme("alternating", 0.7, 1.4, 2, 1)])
def test_linear_game_coefficients_are_the_matrix_logarithm_series(scheme):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 2))
    game = Game("bilinear", lambda p, t: p @ jnp.asarray(a) @ t, lambda p, t: -p @ jnp.asarray(a) @ t,
                np.ones(3), np.ones(2))
    step = update_map(game, scheme.structure)
    order = 3
    # M(h) = sum_i M_i h^i: one step is a polynomial in h of degree m + k at most, read off exactly
    jac = lambda h: jax.jacfwd(lambda z: step(z, h, scheme.params))(jnp.zeros(5))
    degree = 3
    nodes = np.arange(1, degree + 2, dtype=float)
    values = np.stack([np.asarray(jac(h)) for h in nodes])
    vandermonde = np.vander(nodes, degree + 1, increasing=True)
    matrices = np.einsum("ij,jkl->ikl", np.linalg.inv(vandermonde), values)
    np.testing.assert_allclose(matrices[0], np.eye(5), atol=1e-12)
    expected = _log_series(list(matrices), order)
    z = jnp.asarray(rng.standard_normal(5))
    looped = update_map(game, scheme.kernel_structure(game, automatic=False))  # substeps in a traced loop
    terms = jax.jit(modified_coefficients(looped, order))(z, scheme.params)
    for i in range(order + 1):
        np.testing.assert_allclose(terms[i], expected[i] @ np.asarray(z), rtol=1e-9, atol=1e-12)


def test_jit_vmap_and_grad_work_through_the_field():
    field = modified_field(update_map(GAME, ("simultaneous",)), 1)
    params = Scheme("simultaneous", 1.0, 0.5).params
    batch = jnp.stack([Z, 1.1 * Z, 0.9 * Z])
    vmapped = jax.jit(jax.vmap(field, in_axes=(0, None, None)))(batch, H, params)
    assert relative(vmapped[1], field(1.1 * Z, H, params)) < 1e-14
    gradient = jax.jit(jax.grad(lambda z: jnp.sum(field(z, H, params) ** 2)))(Z)
    assert gradient.shape == Z.shape and bool(jnp.all(jnp.isfinite(gradient)))


def test_bea_refuses_rules_with_memory_says_what_to_check_instead_and_refuses_bad_orders():
    from harness import GameError
    from harness.flows import flow_family

    for scheme in (Scheme("ogda"), Scheme("simultaneous", optimizer="adam")):
        with pytest.raises(GameError, match="one-step map.*slow manifold.*check it against gradient or modified"):
            flow_family(Flow("bea:2"), scheme)
    with pytest.raises(GameError, match="unknown flow"):
        Flow("bea:9")


def test_a_slope_hidden_by_the_floor_is_floor_limited_and_a_larger_range_shows_it(games):
    from harness.checks import CheckSpec, Settings, run_check

    spec = CheckSpec("bilinear", Scheme("simultaneous", 1.0, 0.3), Flow("bea:4"))
    hidden = run_check(games["bilinear"], spec, Settings(h_max=2e-3))
    assert hidden.fit.status == "FLOOR-LIMITED" and hidden.fit.slope is None
    shown = run_check(games["bilinear"], spec, Settings())
    assert shown.fit.status == "PASS" and abs(shown.fit.slope - 6.0) < 0.15


def looped_alternating(f, g, phi, theta, h, lr1, lr2):
    """Alternating GD with m = 2, k = 1 written with lax control flow: phi's two substeps in a while loop, and
    theta's view of phi chosen by a branch (the new phi at every h >= 0)."""

    def substep(state):
        count, x = state
        return count + 1, x + (lr1 * h / 2) * f(x, theta)

    _, phi_next = jax.lax.while_loop(lambda state: state[0] < 2, substep, (0, phi))
    seen = jax.lax.cond(h >= 0, lambda: phi_next, lambda: phi)
    return phi_next, theta + lr2 * h * g(seen, theta)


def test_a_users_rule_with_a_while_loop_and_a_branch_is_expanded_in_taylor_mode():
    """Its derivation is alternating GD's (m = 2, k = 1) term for term, and it measures bea:1's slope 3."""
    mine, builtin = derive(looped_alternating, 1), derive(Scheme("alternating", m=2, k=1), 1)
    assert mine.verified
    expected = {(t.order, t.player, t.tree): t.coefficient for t in builtin.terms}
    assert {(t.order, t.player, t.tree) for t in mine.terms} == set(expected)
    for term in mine.terms:
        assert term.coefficient == pytest.approx(expected[(term.order, term.player, term.tree)], rel=1e-9, abs=1e-12)
    result = harness.check("dirac_gan", looped_alternating, "bea:1", points=1)
    assert result.passed and abs(result.fit.slope - 3) < 0.15


def test_random_reshuffling_loops_equal_the_unrolled_epoch_and_its_modified_coefficients():
    """The epoch runs its orders and steps in while loops with a branch on the component index (Taylor mode
    holds the integer index fixed); its values and its order-1 modified coefficients equal those of the m! orders
    written out step by step, and its program holds each component's gradient once, not m * m! times."""
    import itertools

    from harness.games.finite_sum import COMPONENTS

    components = COMPONENTS[:2]  # two of the catalog's three (their unrolled epoch compiles in a second)
    game = harness.single_objective("pair", lambda x: (components[0](x) + components[1](x)) / 2, x0=[0.7, -0.4],
                                    components=components)
    gradients = [jax.grad(c) for c in components]

    def unrolled(z, h, params):
        size = params.alpha * h / len(gradients)
        ends = []
        for order in itertools.permutations(range(len(gradients))):
            x = z
            for k in order:
                x = x - size * gradients[k](x)
            ends.append(x)
        return sum(ends) / len(ends)

    looped = update_map(game, Scheme("random_reshuffling").kernel_structure(game, True))
    params = Scheme("random_reshuffling", 0.7).params
    z = np.array([0.3, -0.8])
    np.testing.assert_array_equal(looped(z, 0.1, params), unrolled(z, 0.1, params))
    np.testing.assert_allclose(jax.jit(modified_coefficients(looped, 1))(z, params),
                               jax.jit(modified_coefficients(unrolled, 1))(z, params), rtol=1e-13, atol=1e-15)
    text = str(jax.make_jaxpr(looped)(z, 0.1, params))
    assert text.count("while[") == 2 and text.count("cond[") == 1


def test_proximal_points_loop_equals_its_unrolled_iterations_and_their_modified_coefficients():
    """Proximal point's fixed-point iterations run in a while loop: its values and its order-1 modified coefficients
    equal those of the ITERATIONS iterations written out, and its program holds the field once."""
    from harness.model.catalog import catalog
    from harness.model.scaled_field import velocity
    from harness.rules.proximal_point import ITERATIONS

    game = catalog()["dirac_gan"]

    def unrolled(z, h, params):
        V = velocity(game, params)
        z_next = z
        for _ in range(ITERATIONS):
            z_next = z + h * V(z_next)
        return z_next

    scheme = Scheme("proximal_point", 0.4, 1.5)
    looped = update_map(game, scheme.structure)
    z = np.array([0.3, -0.8])
    np.testing.assert_array_equal(looped(z, 0.1, scheme.params), unrolled(z, 0.1, scheme.params))
    np.testing.assert_allclose(jax.jit(modified_coefficients(looped, 1))(z, scheme.params),
                               jax.jit(modified_coefficients(unrolled, 1))(z, scheme.params), rtol=1e-13, atol=1e-15)
    assert str(jax.make_jaxpr(looped)(z, 0.1, scheme.params)).count("while[") == 1
