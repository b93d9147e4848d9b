"""Regimes: where the state of a rule with memory starts, which decides what its step is measured against.

A rule with memory steps a lifted state: (z, z_prev) for ogda and heavy_ball, (z, buffers, count) for the
per-player optimizers (harness.rules.optimizers). Its local error is that of one step from a start state:

- ``on-flow``: the past placed on the checked flow phi_t. z_prev = phi_{-h}(z0) (the reference solution,
  with its error estimate); each buffer is the exponential average of the fields seen along the flow's
  backward trajectory z_j = phi_{-jh}(z0),
      b = sum_{j >= 1} decay^(j-1) gain u(z_j)^power
  summed over J = ceil(log(eps) / log(decay)) past steps (decay^J <= eps: the neglected tail is below
  round-off when the terms do not grow; its size, estimated from the last term, is added to the start's
  error estimate); each z_(j+1) is z_j taken back by two Dopri8 steps of h/2 (error ~ (h |dF/dz| / 2)^9
  per step, far below the measured O(h^3) errors over the whole grid). The step count is infinite (no
  bias left to correct).
- ``cold``: the frameworks' start, zero buffers and z_prev = z0, then n - 1 steps, and the n-th step is
  measured (from where the first n - 1 steps led; ``step`` = n, default 1).

Against a flow derived on the flow (``gradient``, ``modified``) a cold start is off at O(h) when the buffers
have not reached their steady weight (heavy ball, nesterov, ema, adam and rmsprop without bias correction:
local-error slope 1), at O(h^2) when only their lags differ (bias-corrected adam and rmsprop: slope 2);
``modified-at-step`` is the flow of the cold start at step n (harness.flows.optimizer_flows).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from harness.base.integrate import EPS
from harness.model.game import Game
from harness.rules import optimizers as opt

REGIMES = ("on-flow", "cold")
TAIL = EPS
"""The weight decay^J below which the on-flow buffers' past terms are dropped."""


def state_size(game: Game, structure: tuple) -> int:
    """Size of the state a rule ``structure`` steps: z, (z, z_prev), or (z, memories, count)."""
    if structure[0] in ("ogda", "heavy_ball"):
        return 2 * game.z0.size
    if structure[0] == "optimizers":
        return opt.state_size(game, structure[2])
    return game.z0.size


def on_flow_terms(optimizers: tuple[opt.Optimizer, opt.Optimizer]) -> int:
    """J: the past steps whose fields a start on the flow sums into the optimizers' buffers."""
    return opt.past_terms(optimizers, TAIL)


def lifted(structure: tuple) -> bool:
    """Whether a rule structure steps a lifted state."""
    return structure[0] in ("ogda", "heavy_ball", "optimizers")


def start_states(game: Game, structure: tuple, regime: str, z0: jax.Array, backward: Callable,
                 step_back: Callable) -> tuple[jax.Array, jax.Array]:
    """(lifted start states [B, size], estimated error of the start) for the points ``z0`` [B, n];
    ``backward(z) -> (phi_{-h}(z), error)`` solves the checked flow back one step for every row (the
    reference solution), ``step_back(z)`` does the same more cheaply, with no error estimate."""
    if regime == "cold":
        if structure[0] == "optimizers":
            return jax.vmap(lambda z: opt.cold_state(game, structure[2], z))(z0), jnp.zeros(z0.shape[0])
        return jnp.concatenate([z0, z0], axis=1), jnp.zeros(z0.shape[0])
    previous, error = backward(z0)
    if structure[0] != "optimizers":
        return jnp.concatenate([z0, previous], axis=1), error
    return _on_flow(game, structure, z0, previous, error, step_back)


def _on_flow(game, structure, z0, previous, error, step_back):
    _, order, optimizers = structure
    members = opt.players(game, optimizers)
    terms = on_flow_terms(optimizers)
    contribution = jax.vmap(lambda newer, current, older, w: opt.past_contributions(
        game, order, optimizers, newer, current, older, w), in_axes=(0, 0, 0, None))
    decays = [[b.decay for b in o.buffers] for _, o in members]

    def past_step(j, carry):
        newer, current, sums, last = carry
        older = step_back(current)
        weights = [[jnp.power(d, j - 1.0) for d in player] for player in decays]
        last = contribution(newer, current, older, weights)
        return current, older, [s + t for s, t in zip(sums, last, strict=True)], last

    empty = [jnp.zeros((z0.shape[0], len(o.buffers) * (s.stop - s.start))) for s, o in members]
    _, _, sums, last = jax.lax.fori_loop(1, terms + 1, past_step, (z0, previous, empty, empty))
    tail = jnp.zeros(z0.shape[0])  # the neglected tail ~ the last term times decay / (1 - decay)
    for (s, o), total, final in zip(members, sums, last, strict=True):
        size = s.stop - s.start
        for k, b in enumerate(o.buffers):
            block = slice(k * size, (k + 1) * size)
            ratio = jnp.linalg.norm(final[:, block], axis=1) / (jnp.linalg.norm(total[:, block], axis=1) + 1e-300)
            tail = jnp.maximum(tail, ratio * b.decay / (1.0 - b.decay))
    memories = [jnp.concatenate([total, previous[:, s]] if o.name == "nesterov" else [total], axis=1)
                for (s, o), total in zip(members, sums, strict=True)]
    count = jnp.full((z0.shape[0], 1), jnp.inf)
    return jnp.concatenate([z0, *memories, count], axis=1), error + tail * jnp.linalg.norm(z0, axis=1)
