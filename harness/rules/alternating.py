"""Alternating gradient descent: phi takes m Euler substeps of size alpha h / m with theta held, then theta takes k
of size lambda h / k seeing the new phi (``first="theta"``: the mirror image). Simultaneous and alternating GD on a
two-player game also share one step whose m, k and player order are traced (``two-player gd``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from harness.model.game import Game
from harness.rules.base import ORDER_CODES, Option, Rule

M = Option("m", 1, int, "substeps of player 1 (alternating)")
K = Option("k", 1, int, "substeps of player 2 (alternating)")
FIRST = Option("first", "phi", str, "who moves first (alternating)", choices=("phi", "theta"))


@dataclass(frozen=True)
class Alternating(Rule):
    name = "alternating"
    options = (M, K, FIRST)
    kinds = ("alternating", "two-player gd")

    def structure(self, scheme: Any) -> tuple:
        if scheme.optimizers is not None:
            return ("optimizers", scheme.first, scheme.optimizers)
        return ("alternating", scheme.m, scheme.k, scheme.first)

    def step(self, game: Game, structure: tuple) -> Callable:
        if structure[0] == "two-player gd":
            return _two_player_gd(game)
        _, m, k, first = structure

        def alternating(z, h, params):
            phi, theta = game.split(z)

            def move_phi(phi, theta):
                for _ in range(m):
                    phi = phi + (params.alpha * h / m) * game.field1(phi, theta)
                return phi

            def move_theta(phi, theta):
                for _ in range(k):
                    theta = theta + (params.lam * h / k) * game.field2(phi, theta)
                return theta

            sees_new = params.order != ORDER_CODES["simultaneous"]  # simultaneous GD: the second sees the old state
            if first == "phi":
                phi_new = move_phi(phi, theta)
                theta = move_theta(jnp.where(sees_new, phi_new, phi), theta)
                phi = phi_new
            else:
                theta_new = move_theta(phi, theta)
                phi = move_phi(phi, jnp.where(sees_new, theta_new, theta))
                theta = theta_new
            return jnp.concatenate([phi, theta])

        return alternating

    def closed_form(self, flow: str, scheme: Any) -> np.ndarray:
        a, l, m, k = scheme.lr1, scheme.lr2, scheme.m, scheme.k
        if flow == "official":
            if scheme.first == "phi":
                return np.array([[a / m, a], [l - 2 * a, l / k]])
            return np.array([[a / m, a - 2 * l], [l, l / k]])
        if scheme.first == "phi":
            return np.array([[a / m, l], [-a, l / k]])
        return np.array([[a / m, -l], [a, l / k]])

    def label(self, scheme: Any) -> str:
        return f", m={scheme.m}, k={scheme.k}, first={scheme.first}"

    def substeps(self, scheme: Any) -> int:
        return int(scheme.m) + int(scheme.k)


def _two_player_gd(game: Game) -> Callable:
    """Simultaneous and alternating GD as one step whose substep counts m, k and player order are traced
    (``params.m``, ``params.k``, ``params.order`` = ORDER_CODES), so that one compiled kernel serves them all: phi takes
    m Euler substeps of size alpha h / m with theta held, theta takes k of size lambda h / k with phi held;
    the player who moves second sees the first one's new state (simultaneous: both see the old one). Loops
    and branches are lax control flow, which Taylor-mode autodiff (harness.base.bea) expands as loops and
    branches, so the error series and harness.derive share the step too."""

    def step(z, h, params):
        phi, theta = game.split(z)
        m, k, order = params.m, params.k, params.order

        def move_phi(theta_seen):
            substep = lambda _, x: x + (params.alpha * h / m) * game.field1(x, theta_seen)  # noqa: E731
            return jax.lax.fori_loop(0, m.astype(jnp.int32), substep, phi)

        def move_theta(phi_seen):
            substep = lambda _, x: x + (params.lam * h / k) * game.field2(phi_seen, x)  # noqa: E731
            return jax.lax.fori_loop(0, k.astype(jnp.int32), substep, theta)

        theta_first = order == ORDER_CODES["theta"]
        theta_seen = jax.lax.cond(theta_first, move_theta, lambda _: theta, phi)
        phi_new = move_phi(theta_seen)
        phi_seen = jnp.where(order == ORDER_CODES["phi"], phi_new, phi)
        theta_new = jax.lax.cond(theta_first, lambda _: theta_seen, move_theta, phi_seen)
        return jnp.concatenate([phi_new, theta_new])

    return step


RULE = Alternating()
