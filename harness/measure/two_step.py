"""Second-order ODEs checked by the two-step residual: high-resolution ODEs of momentum methods.

Two-step methods whose momentum is tied to the step s, on the rate-scaled field V (V = -alpha grad E for
one objective), time step tau = sqrt(s) (Shi, Du, Jordan & Su 2022):

    heavy_ball_sc:  x_(k+1) = x_k + a (x_k - x_(k-1)) + s V(x_k)
    nag_sc:         x_(k+1) = x_k + a (x_k - x_(k-1)) + s V(x_k) + a s (V(x_k) - V(x_(k-1)))
    nag_c:          as nag_sc with c_k = k / (k + 3) in place of a

with a = (1 - sqrt(mu s)) / (1 + sqrt(mu s)); and classical momentum and Nesterov (Sutskever's form) with
momentum b = e^(-gamma sqrt(s)) (França, Sulam, Robinson & Vidal 2020; mass 1, so that their eps is s and their
time step h is tau):

    heavy_ball_damped:  x_(k+1) = x_k + b (x_k - x_(k-1)) + s V(x_k)
    nag_damped:         x_(k+1) = y + s V(y),    y = x_k + b (x_k - x_(k-1)).

Heavy ball and Nesterov with a fixed momentum beta (Kovachki & Stuart 2021), time step tau = s:

    heavy_ball_fixed:  x_(k+1) = x_k + beta (x_k - x_(k-1)) + s V(x_k)
    nag_fixed:         x_(k+1) = y + s V(y),    y = x_k + beta (x_k - x_(k-1)).

A second-order ODE X'' = A(X, X', t) (a user's flow in the notation ``flow(V, x, v, t, s)``,
harness.model.user) that models the method with x_k = X(t_k), t_k = (k + c) tau (c: the flow's ``time_offset``),
is checked on its own exact solutions: from each initial point x0 with
velocity v0 = u(x0) at t_k (the flow's ``initial_velocity``, default V(x0)), the ODE is solved to t_k + tau and
to t_k - tau (Dopri8 on (X, X', t) with its error estimate, harness.base.integrate), and the residual

    r(tau) = X(t_k + tau) - step(X(t_k), X(t_k - tau), k)

is the method's one-step defect on the ODE's trajectory. By Taylor expansion r = O(tau^(p+1+q)) for an ODE of
resolution p in tau and a rule with s = tau^q (``Rule.time_power``): with tau = sqrt(s), O(s^(3/2)) for a
low-resolution ODE and O(s^2) for a high-resolution one; with tau = s, O(s^3) for an ODE with the O(s)
correction (docs/theory.md §8). The step sizes of the measurement are the time steps tau, the largest by default
the tau of s = TAU_SCALE^2 / |dV/dx| (for tau = s, of s = TAU_SCALE^2 (1 - beta) / |dV/dx|); for nag_c, k is
the integer nearest T / tau - c with T = NAG_C_TIME / sqrt(|dV/dx|), where the damping 3/t is of order one, so
that every step size measures near the same time.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from harness.base.compiler import jit
from harness.base.integrate import EPS, reference_solutions
from harness.base.precision import require_float64
from harness.flows import Flow
from harness.measure import FLOOR_FACTOR, Measurement, jacobian_norm
from harness.model.game import Game
from harness.model.scaled_field import velocity
from harness.model.user import UserFunction, initial_velocity_function, second_order_function
from harness.rules import RULES
from harness.rules.schemes import Scheme

TAU_SCALE = 0.1
"""The largest step s is TAU_SCALE^2 / |dV/dx| (time step tau = sqrt(s) = TAU_SCALE / sqrt(|dV/dx|) for a rule
whose momentum is tied to s)."""
NAG_C_TIME = 2.0
"""The time t_k nag_c is measured near, in units of 1 / sqrt(|dV/dx|)."""
REFERENCE_STEPS = 8
"""Dopri8 steps over time tau (their error estimate is checked against each residual by the fit)."""


def step_sizes(game: Game, scheme: Scheme, count: int, decades: float, largest: float | None = None) -> np.ndarray:
    """The time steps tau: ``count`` values over ``decades`` up to ``largest`` (default the tau of
    s = TAU_SCALE^2 / |dV/dx|; with tau = s, s = TAU_SCALE^2 / (l |dV/dx|), l = 1 / (1 - beta) the rule's lead)."""
    if largest is None:
        norm = jacobian_norm(game, scheme)
        rule = RULES[scheme.name]
        largest = TAU_SCALE / math.sqrt(norm) if rule.time_power == 2 else TAU_SCALE ** 2 / (rule.lead(scheme) * norm)
    return largest * np.logspace(-decades, 0.0, count)


def time_power(scheme: Scheme) -> int:
    """q of s = tau^q for the two-step rule of ``scheme`` (harness.rules.base.Rule.time_power)."""
    return RULES[scheme.name].time_power


def step_indices(game: Game, scheme: Scheme, flow: Flow, taus: np.ndarray) -> np.ndarray:
    """k per time step: the integer nearest T / tau - c for nag_c (at least 1), 1 otherwise (the methods with
    a constant momentum do not depend on k)."""
    if scheme.name != "nag_c":
        return np.ones_like(taus)
    assert flow.user is not None
    time = NAG_C_TIME / math.sqrt(jacobian_norm(game, scheme))
    return np.maximum(1.0, np.round(time / taus - flow.user.time_offset))


def method_step(name: str, V, x, x_prev, s, k, params):
    """x_(k+1) of the two-step method ``name`` (its module in harness.rules; ``params``: harness.rules.base.Traced)."""
    return RULES[name].advance(V, x, x_prev, s, k, params)


@functools.lru_cache(maxsize=16)
def _kernel(game: Game, name: str, user: UserFunction, keywords: tuple):
    """The compiled residual of rows (x0 [B, n], tau [B], k [B], params): (|r| [B], reference error [B])."""
    accelerate = second_order_function(user, game, keywords)
    initial = initial_velocity_function(user, game, keywords)
    power = RULES[name].time_power
    n = sum(game.dims)

    def field(y, arg):  # y = (X, X', t); arg = (s, params)
        s, params = arg
        return jnp.concatenate([y[n:2 * n], accelerate(y[:n], y[n:2 * n], y[-1], s, params), jnp.ones(1)])

    @jit
    def residual(x0, taus, ks, params):
        V = velocity(game, params)
        s = taus ** power
        t = (ks + user.time_offset) * taus
        y0 = jnp.concatenate([x0, jax.vmap(initial, (0, 0, None))(x0, s, params), t[:, None]], axis=1)
        rows = x0.shape[0]
        args = (jnp.concatenate([s, s]), jax.tree.map(lambda p: jnp.broadcast_to(p, (2 * rows,)), params))
        ends, errors = reference_solutions(field, jnp.concatenate([y0, y0]), jnp.concatenate([taus, -taus]), args,
                                           affine=False, n_steps=REFERENCE_STEPS)
        x_plus, x_minus = ends[:rows, :n], ends[rows:, :n]
        stepped = jax.vmap(lambda x, xp, si, k: method_step(name, V, x, xp, si, k, params))(x0, x_minus, s, ks)
        # the error of X(t - tau) enters the step through (1 + a) (x - x_prev) and a s V: at most 3 times
        return jnp.linalg.norm(x_plus - stepped, axis=1), errors[:rows] + 3.0 * errors[rows:]

    return residual


def measure_two_step_residual(game: Game, scheme: Scheme, flow: Flow, taus: np.ndarray, points: np.ndarray
                              ) -> Measurement:
    """|r(tau)| at every (initial point, time step) pair (module docstring), with the reference solutions'
    error estimates and round-off floors FLOOR_FACTOR * eps * |x0|."""
    assert flow.user is not None and flow.second_order
    require_float64("the two-step residual")
    ks = step_indices(game, scheme, flow, taus)
    count, size = len(points), len(taus)
    x0 = np.repeat(points, size, axis=0)
    params = scheme.params
    kernel = _kernel(game, scheme.name, flow.user, flow.user.keywords_from(scheme))
    errors, reference = kernel(jnp.asarray(x0), jnp.asarray(np.tile(taus, count)), jnp.asarray(np.tile(ks, count)),
                               params)
    floor = FLOOR_FACTOR * EPS * np.linalg.norm(x0, axis=1)
    shape = (count, size)
    return Measurement(np.asarray(taus), np.asarray(points), np.asarray(errors).reshape(shape),
                       np.asarray(reference).reshape(shape), floor.reshape(shape), "dopri8",
                       update_steps=np.ones(size, dtype=int))
