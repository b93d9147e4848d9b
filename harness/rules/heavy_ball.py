"""Heavy ball (multistep, momentum beta): z' = z + h V(z) + beta (z - z_prev), on the lifted state (z, z_prev) ->
(z', z). Its flows lead with V / (1 - beta); the first-order flow's V'V coefficient is (1 + beta) / (1 - beta)^3
(Ghosh et al. 2023's regulariser, harness.flows)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp
import numpy as np

from harness.model.game import Game
from harness.model.scaled_field import velocity
from harness.rules.base import Option, Rule, joint, no_official

BETA = Option("beta", 0.0, float, "momentum of heavy_ball, in [0, 1)",
              check=lambda value, rule: None if 0 <= value < 1 else
              f"beta must be in [0, 1) for {rule}, got {value!r}")


@dataclass(frozen=True)
class HeavyBall(Rule):
    name = "heavy_ball"
    memory = True
    options = (BETA,)

    def step(self, game: Game, structure: tuple) -> Callable:
        n = sum(game.dims)

        def heavy_ball(state, h, params):
            z, z_prev = state[:n], state[n:]
            return jnp.concatenate([z + h * velocity(game, params)(z) + params.beta * (z - z_prev), z])

        return heavy_ball

    def lead(self, scheme: Any) -> float:
        return 1.0 / (1.0 - scheme.beta)

    def closed_form(self, flow: str, scheme: Any) -> np.ndarray:
        if flow == "official":
            raise no_official(self.name)
        return (1 + scheme.beta) / (1 - scheme.beta) ** 3 * joint(scheme)

    def label(self, scheme: Any) -> str:
        return f", beta={scheme.beta:g}"

    def steady_slope(self, scheme: Any) -> float | None:
        return 1.0


RULE = HeavyBall()
