"""Per-player optimizers with state: their steps equal optax's, their first-order flows match the closed forms
of the literature, and the regime decides the measured slope (harness.rules.optimizers, harness.flows.optimizer_flows,
harness.rules.regimes)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import harness
from harness import GameError, measure
from harness.checks import CheckSpec, Settings, run_check
from harness.flows import Flow, family_field, flow_family, optimizer_coefficients
from harness.flows.optimizer_flows import buffer_coefficients, optimizer_flow, optimizer_lead
from harness.measure import initial_points, runs_long
from harness.rules.optimizers import Optimizer, cold_state, past_terms
from harness.rules.schemes import Scheme, update_map

QUICK = Settings(points=2)
ADAM = "adam(beta1=0.9, beta2=0.99, eps=1e-8)"


def iterate(game, scheme, steps, h):
    """The parameters z_1 ... z_steps of the harness's rule from the frameworks' (cold) start at z0."""
    step = jax.jit(lambda s: update_map(game, scheme.structure)(s, h, scheme.params))
    state = cold_state(game, scheme.optimizers, jnp.asarray(game.z0))
    path = []
    for _ in range(steps):
        state = step(state)
        path.append(np.asarray(state[: game.z0.size]))
    return np.array(path)


def optax_path(game, transforms, rates, steps, h):
    """The same with one optax optimizer per player (learning rate r h), the gradients taken at the joint state."""
    a = game.dims[0]
    players = [transforms[0](rates[0] * h)] + ([transforms[1](rates[1] * h)] if game.dims[1] else [])
    params = [jnp.asarray(game.z0[:a]), jnp.asarray(game.z0[a:])][: len(players)]
    states = [p.init(x) for p, x in zip(players, params, strict=True)]
    path = []
    for _ in range(steps):
        z = jnp.concatenate(params)
        grads = -game.field(z)
        grads = [grads[:a], grads[a:]][: len(players)]
        new = []
        for i, player in enumerate(players):
            updates, states[i] = player.update(grads[i], states[i], params[i])
            new.append(optax.apply_updates(params[i], updates))
        params = new
        path.append(np.asarray(jnp.concatenate(params)))
    return np.array(path)


OPTAX = [
    ("heavy_ball(beta=0.7)", lambda lr: optax.sgd(lr, momentum=0.7)),
    ("nesterov_buffer(beta=0.7)", lambda lr: optax.sgd(lr, momentum=0.7, nesterov=True)),
    ("ema(beta=0.7)", lambda lr: optax.chain(optax.ema(0.7, debias=False), optax.scale(-lr))),
    ("rmsprop(beta2=0.9, eps=1e-3)", lambda lr: optax.rmsprop(lr, decay=0.9, eps=1e-3)),
    ("rmsprop(beta2=0.9, eps=1e-3, eps_inside=false)", lambda lr: optax.rmsprop(lr, decay=0.9, eps=1e-3,
                                                                                 eps_in_sqrt=False)),
    ("rmsprop(beta2=0.9, eps=1e-3, bias_correction=true)", lambda lr: optax.rmsprop(lr, decay=0.9, eps=1e-3,
                                                                                     bias_correction=True)),
    ("adam(beta1=0.8, beta2=0.9, eps=1e-3, bias_correction=true)",
     lambda lr: optax.adam(lr, b1=0.8, b2=0.9, eps=0.0, eps_root=1e-3)),
    ("adam(beta1=0.8, beta2=0.9, eps=1e-3, eps_inside=false, bias_correction=true)",
     lambda lr: optax.adam(lr, b1=0.8, b2=0.9, eps=1e-3)),
]


@pytest.mark.parametrize("spec, transform", OPTAX, ids=[spec for spec, _ in OPTAX])
def test_each_step_equals_optax_to_round_off(games, spec, transform):
    game = games["rosenbrock"]
    ours = iterate(game, Scheme("gd", 0.7, optimizer=spec), 12, 0.01)
    theirs = optax_path(game, [transform], (0.7, 1.0), 12, 0.01)
    np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=1e-15)
    assert np.linalg.norm(ours[-1] - game.z0) > 1e-3  # the optimizer moved


def test_two_players_with_their_own_optimizers_equal_optax_per_player(games):
    game = games["dirac_gan"]
    scheme = Scheme("simultaneous", 1.0, 0.3, optimizer="adam(beta1=0.8, beta2=0.9, eps=1e-3, bias_correction=true)",
                    optimizer2="heavy_ball(beta=0.6)")
    theirs = optax_path(game, [lambda lr: optax.adam(lr, b1=0.8, b2=0.9, eps=0.0, eps_root=1e-3),
                               lambda lr: optax.sgd(lr, momentum=0.6)], (1.0, 0.3), 10, 0.05)
    np.testing.assert_allclose(iterate(game, scheme, 10, 0.05), theirs, rtol=1e-14, atol=1e-15)


def test_adam_without_bias_correction_follows_its_formula(games):
    """optax's adam always corrects the bias: the uncorrected step is checked against its formula."""
    game, h, (b1, b2, eps) = games["rosenbrock"], 0.01, (0.8, 0.9, 1e-3)
    ours = iterate(game, Scheme("gd", optimizer=f"adam(beta1={b1}, beta2={b2}, eps={eps})"), 6, h)
    x, m, v = game.z0.copy(), 0.0, 0.0
    for row in ours:
        u = np.asarray(game.field(jnp.asarray(x)))
        m, v = b1 * m + (1 - b1) * u, b2 * v + (1 - b2) * u ** 2
        x = x + h * m / np.sqrt(v + eps)
        np.testing.assert_allclose(row, x, rtol=1e-14)


def test_sutskevers_nesterov_is_the_buffer_form_seen_at_the_look_ahead_point(games):
    game, beta = games["rosenbrock"], 0.6
    x = iterate(game, Scheme("gd", optimizer=f"nesterov(beta={beta})"), 8, 0.01)
    p = iterate(game, Scheme("gd", optimizer=f"nesterov_buffer(beta={beta})"), 8, 0.01)
    previous = np.vstack([game.z0, x[:-1]])
    np.testing.assert_allclose(p, x + beta * (x - previous), rtol=1e-14)


def test_bad_optimizers_are_refused_in_one_line():
    for spec, message in [("adamw", "unknown optimizer"), ("adam(beta=0.5)", "beta applies to"),
                          ("heavy_ball(beta=1.0)", r"beta must be in \[0, 1\)"), ("adam(eps=-1)", "eps must be"),
                          ("adam(bias_correction=maybe)", "true or false"), ("adam(beta2=x)", "must be a number"),
                          ("adam(lr=1)", "is not one of")]:
        with pytest.raises(GameError, match=message):
            Optimizer.of(spec)
    with pytest.raises(GameError, match="optimizers apply to"):
        Scheme("extragradient", optimizer="adam")
    with pytest.raises(GameError, match="m = k = 1"):
        Scheme("alternating", m=2, optimizer="adam")
    with pytest.raises(GameError, match="regime applies to rules with memory"):
        Scheme("simultaneous", regime="cold")
    with pytest.raises(GameError, match="step n applies to the cold regime"):
        Scheme("simultaneous", optimizer="adam", step=3)
    assert Optimizer.of(Optimizer.of(ADAM).label) == Optimizer.of(ADAM)


# --- first-order flows: the literature's closed forms ----------------------------------------------------

def closed_form_field(game, lead, coefficient):
    """lead V - h coefficient V'V for one objective (V = rate-scaled field)."""
    def field(z, h):
        v = game.field(z)
        return lead * v - h * coefficient * jax.jvp(game.field, (z,), (v,))[1]
    return field


@pytest.mark.parametrize("name, lead, coefficient", [
    ("heavy_ball", lambda b: 1 / (1 - b), lambda b: (1 + b) / (2 * (1 - b) ** 3)),
    ("nesterov", lambda b: 1 / (1 - b), lambda b: (1 - b + 2 * b ** 2) / (2 * (1 - b) ** 3)),
    ("nesterov_buffer", lambda b: 1 / (1 - b), lambda b: (1 - b + 2 * b ** 2) / (2 * (1 - b) ** 3)),
    ("ema", lambda b: 1.0, lambda b: (1 + b) / (2 * (1 - b))),
])
def test_momentum_flows_are_the_literatures_closed_forms(games, name, lead, coefficient):
    """Heavy ball: V/(1-b) - h (1+b)/(2(1-b)^3) V'V; Nesterov (Kovachki & Stuart 2021): (1 - b + 2b^2) in place
    of (1 + b); EMA momentum: V - h (1+b)/(2(1-b)) V'V."""
    game, beta, h = games["rosenbrock"], 0.6, 0.003
    scheme = Scheme("gd", optimizer=f"{name}(beta={beta})")
    family, coefficients = flow_family(Flow("modified"), scheme)
    ours = family_field(game, scheme.structure, family)(jnp.asarray(game.z0), h, scheme.params, coefficients)
    expected = closed_form_field(game, lead(beta), coefficient(beta))(jnp.asarray(game.z0), h)
    np.testing.assert_allclose(ours, expected, rtol=1e-13)


def test_adams_flow_is_its_closed_form(games):
    """Adam, eps inside the root, on the flow: G = r u / N, N = sqrt(u^2 + eps),
    H = r [lam2 u^2 (u'G) / N^3 - lam1 (u'G) / N] - G'G / 2, lam_i = b_i / (1 - b_i)."""
    game, (b1, b2, eps, r, h) = games["rosenbrock"], (0.9, 0.99, 1e-2, 0.7, 0.001)
    scheme = Scheme("gd", r, optimizer=f"adam(beta1={b1}, beta2={b2}, eps={eps})")
    family, coefficients = flow_family(Flow("modified"), scheme)
    z = jnp.asarray(game.z0)
    ours = family_field(game, scheme.structure, family)(z, h, scheme.params, coefficients)
    lead = lambda x: r * game.field(x) / jnp.sqrt(game.field(x) ** 2 + eps)  # noqa: E731
    u, g = game.field(z), lead(z)
    n = jnp.sqrt(u ** 2 + eps)
    ug = jax.jvp(game.field, (z,), (g,))[1]
    l1, l2 = b1 / (1 - b1), b2 / (1 - b2)
    expected = g + h * (r * (l2 * u ** 2 * ug / n ** 3 - l1 * ug / n) - 0.5 * jax.jvp(lead, (z,), (g,))[1])
    np.testing.assert_allclose(ours, expected, rtol=1e-12)


@pytest.mark.parametrize("optimizer, optimizer2", [(ADAM, "heavy_ball(beta=0.5)"), ("nesterov(beta=0.6)", None)])
def test_the_leading_field_is_the_flow_at_h_zero_and_its_rates_share_one_program(games, optimizer, optimizer2):
    """The step-size scale differentiates D alone (optimizer_lead), which is the flow at h = 0 to the bit; its
    relative rates at the default state alone and at a check's 4 points come from one compiled program."""
    game = games["dirac_gan"]
    scheme = Scheme("simultaneous", 1.0, 0.3, optimizer=optimizer, optimizer2=optimizer2)
    coefficients = optimizer_coefficients(Flow("gradient"), scheme)[1]
    flow = optimizer_flow(game, scheme.structure[1], scheme.structure[2])
    lead = optimizer_lead(game, scheme.structure[2])
    for z in initial_points(game, 4):
        at_zero = flow(jnp.asarray(z), 0.0, scheme.params, (0.0, coefficients))
        np.testing.assert_array_equal(lead(jnp.asarray(z), scheme.params, coefficients), at_zero)
    measure._relative_rates.cache_clear()
    with jax.enable_x64(True):
        alone = measure._optimizer_rate(game, scheme, 0.0, game.z0[None, :], False)
        four = measure._optimizer_rate(game, scheme, 0.0, initial_points(game, 4), False)
    assert measure._relative_rates(game, scheme.structure)._cache_size() == 1
    assert 0.0 < alone <= four


def test_a_bias_corrected_buffers_lag_after_n_steps_is_its_closed_form():
    """lam(n) = b (1 - n b^(n-1) + (n-1) b^n) / ((1 - b)(1 - b^n)), b/(1-b) on the flow, 0 at the first step."""
    b = 0.9
    optimizer = Optimizer.of(f"adam(beta1={b}, beta2=0.99, bias_correction=true)")
    for n in (1, 2, 7, 40):
        rows = buffer_coefficients((optimizer, optimizer), "simultaneous", 0, n)
        assert rows[0, 2] == pytest.approx(b * (1 - n * b ** (n - 1) + (n - 1) * b ** n) / ((1 - b) * (1 - b ** n)),
                                           rel=1e-12)
        assert rows[0, 0] == pytest.approx(1 - b ** n) and rows[0, 1] == pytest.approx(1 - b ** n)
    rows = buffer_coefficients((optimizer, optimizer), "simultaneous", 0)
    np.testing.assert_allclose(rows[0], [1.0, 1.0, b / (1 - b), b / (1 - b)])


def test_on_flow_buffers_sum_the_stated_number_of_past_steps_to_round_off(games, monkeypatch):
    """J = ceil(log(eps) / log(decay)) past fields: summing four times as many changes the start by round-off,
    a quarter of them visibly."""
    from harness.base.integrate import EPS
    from harness.rules import regimes

    assert past_terms((Optimizer.of("heavy_ball(beta=0.5)"),) * 2, EPS) == 52
    assert past_terms((Optimizer.of(ADAM),) * 2, EPS) == math.ceil(math.log(EPS) / math.log(0.99)) == 3587
    game = games["dirac_gan"]
    scheme = Scheme("simultaneous", 1.0, 0.3, optimizer="ema(beta=0.8)")
    family, coefficients = flow_family(Flow("modified"), scheme)
    field = family_field(game, scheme.structure, family)
    h = jnp.full(2, 0.01)
    rows = lambda x: jax.vmap(lambda z, hr: field(z, hr, scheme.params, coefficients))(x, h)  # noqa: E731
    from harness.base.integrate import dopri8_rows

    back = lambda x: (dopri8_rows(rows, x, -h, 2), jnp.zeros(2))  # noqa: E731
    z0 = jnp.asarray(np.vstack([game.z0, game.z0 + 0.1]))

    def start(tolerance):
        monkeypatch.setattr(regimes, "TAIL", tolerance)
        return np.asarray(regimes.start_states(game, scheme.structure, "on-flow", z0, back, lambda x: back(x)[0])[0])

    stated, longer, shorter = start(EPS), start(EPS ** 4), start(EPS ** 0.25)
    np.testing.assert_allclose(stated[:, :-1], longer[:, :-1], rtol=1e-14)
    assert np.max(np.abs(shorter[:, :-1] - stated[:, :-1])) > 1e-6


# --- measured slopes: the flows and the regimes --------------------------------------------------------

def slope(game, scheme, flow, **settings):
    result = run_check(harness.load(game), CheckSpec(game, scheme, Flow.of(flow)), Settings(points=2, **settings))
    return result


@pytest.mark.parametrize("optimizer", ["heavy_ball(beta=0.5)", "nesterov(beta=0.5)", "nesterov_buffer(beta=0.5)",
                                       "ema(beta=0.5)", "rmsprop(beta2=0.99, eps=1e-8)", ADAM])
def test_every_optimizer_tracks_its_first_order_flow_at_slope_3(optimizer):
    result = slope("dirac_gan", Scheme("simultaneous", 1.0, 0.3, optimizer=optimizer), "modified")
    assert result.passed and abs(result.fit.slope - 3) < 0.15, (result.fit.slope, result.fit.reasons)


@pytest.mark.parametrize("name", ["nesterov", "nesterov_buffer"])
def test_heavy_balls_coefficient_on_nesterov_measures_slope_2(name):
    beta = 0.5
    flow = harness.flow(order=1)(lambda V, z, h: V(z) / (1 - beta) - h * (1 + beta) / (2 * (1 - beta) ** 3)
                                 * jax.jvp(V, (z,), (V(z),))[1])
    result = slope("rosenbrock", Scheme("gd", optimizer=f"{name}(beta={beta})"), flow)
    assert abs(result.fit.slope - 2) < 0.15 and result.fit.status == "FAIL", (result.fit.slope, result.fit.reasons)


def test_adam_for_one_player_and_heavy_ball_for_the_other_pass_at_slope_3():
    for name in ("simultaneous", "alternating"):
        scheme = Scheme(name, 1.0, 0.3, optimizer=ADAM, optimizer2="heavy_ball(beta=0.5)")
        result = slope("dirac_gan", scheme, "modified")
        assert result.passed and abs(result.fit.slope - 3) < 0.15, (name, result.fit.slope, result.fit.reasons)


@pytest.mark.parametrize("optimizer, step, flow, expected", [
    ("heavy_ball(beta=0.5)", 1, "modified", 1),  # the velocity has not built up: off at O(h)
    ("nesterov(beta=0.5)", 3, "modified", 1),
    ("heavy_ball(beta=0.5)", 4, "modified-at-step", 3),  # the flow of that start
    ("adam(beta1=0.9, beta2=0.99, eps=1e-8, bias_correction=true)", 5, "modified-at-step", 3),
    ("adam(beta1=0.9, beta2=0.99, eps=1e-8, bias_correction=true)", 5, "modified", 2),  # large-n lags at n = 5
    (ADAM, 5, "modified", 1),  # without bias correction the buffers weigh 1 - b^n
])
def test_a_cold_start_measures_the_slope_its_regime_predicts(optimizer, step, flow, expected):
    scheme = Scheme("simultaneous", 1.0, 0.3, optimizer=optimizer, regime="cold", step=step)
    spec = CheckSpec("dirac_gan", scheme, Flow(flow))
    assert spec.expected_slope == expected
    result = slope("dirac_gan", scheme, flow)
    assert result.passed and abs(result.fit.slope - expected) < 0.15, (result.fit.slope, result.fit.reasons)


def test_no_flow_at_step_n_where_none_exists():
    with pytest.raises(GameError, match="coordinate by coordinate"):
        flow_family(Flow("modified-at-step"), Scheme("simultaneous", optimizer=ADAM, regime="cold", step=3))
    with pytest.raises(GameError, match="Sutskever"):
        flow_family(Flow("modified-at-step"), Scheme("simultaneous", optimizer="nesterov", regime="cold"))
    with pytest.raises(GameError, match="no 'official' flow for optimizers"):
        flow_family(Flow("official"), Scheme("simultaneous", optimizer=ADAM))


def test_the_regime_is_recorded_in_the_label_and_the_json():
    scheme = Scheme("simultaneous", 1.0, 0.3, optimizer=ADAM, optimizer2="heavy_ball(beta=0.5)", regime="cold",
                    step=4)
    assert "optimizer=adam(beta1=0.9" in scheme.label and "optimizer2=heavy_ball(beta=0.5)" in scheme.label
    assert scheme.label.endswith("cold at step 4)")
    data = scheme.to_dict()
    assert data["regime"] == "cold" and data["step"] == 4 and data["optimizer"]["name"] == "adam"
    assert Scheme(**data) == scheme
    assert "regime" not in Scheme("simultaneous").to_dict() and "optimizer" not in Scheme("simultaneous").to_dict()
    assert Scheme("ogda").to_dict()["regime"] == "on-flow"


def test_sweeps_that_start_on_the_flow_from_long_memories_run_long():
    """Their start sums tens of thousands of past steps (beta2 = 0.999: 36,000): compiled with XLA's defaults,
    `check --game dirac_gan --optimizer adam` took 8.5 s against 16 s and 40 s (docs/performance.md)."""
    assert [runs_long(Scheme("simultaneous", optimizer=name)) for name in ("adam", "rmsprop", "heavy_ball", "gd")
            ] == [True, True, False, False]
    assert runs_long(Scheme("simultaneous", optimizer="heavy_ball", optimizer2="adam"))
    assert runs_long(Scheme("simultaneous", optimizer="heavy_ball(beta=0.999)"))  # 36,000 past steps
    assert not runs_long(Scheme("simultaneous", optimizer="nesterov(beta=0.9)"))  # 350
    assert not runs_long(Scheme("simultaneous", optimizer="adam", regime="cold"))  # no past summed
