"""Optimistic gradient descent-ascent (multistep): z' = z + 2h V(z) - h V(z_prev), on the lifted state
(z, z_prev) -> (z', z). On the flow its first-order flow is extragradient's, V + (h/2) V'V; from a cold start
(z_prev = z) its first step is off at O(h^2) (harness.rules.regimes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp
import numpy as np

from harness.model.game import Game
from harness.model.scaled_field import velocity
from harness.rules.base import Rule, joint, no_official


@dataclass(frozen=True)
class OptimisticGDA(Rule):
    name = "ogda"
    memory = True

    def step(self, game: Game, structure: tuple) -> Callable:
        n = sum(game.dims)

        def ogda(state, h, params):
            V = velocity(game, params)
            z, z_prev = state[:n], state[n:]
            return jnp.concatenate([z + 2 * h * V(z) - h * V(z_prev), z])

        return ogda

    def closed_form(self, flow: str, scheme: Any) -> np.ndarray:
        if flow == "official":
            raise no_official(self.name)
        return -joint(scheme)

    def steady_slope(self, scheme: Any) -> float | None:
        return 2.0 if (scheme.step or 1) == 1 else None


RULE = OptimisticGDA()
