"""The proximal point rule (implicit): z' = z + h V(z'), solved by ITERATIONS fixed-point iterations
z_(j+1) = z + h V(z_j) from z_0 = z (a contraction by h |dV/dz|, at most 0.1 on the default grids: 0.2^24 is below
round-off; each iteration fixes one more order in h). The iterations are a while loop, not unrolled: Taylor mode
(harness.base.bea) and XLA see one iteration. Its first-order flow is V + (h/2) V'V."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from harness.model.game import Game
from harness.model.scaled_field import velocity
from harness.rules.base import Rule, joint, no_official

ITERATIONS = 24


@dataclass(frozen=True)
class ProximalPoint(Rule):
    name = "proximal_point"

    def step(self, game: Game, structure: tuple) -> Callable:
        def proximal_point(z, h, params):
            V = velocity(game, params)

            def iteration(state):
                j, z_next = state
                return j + 1, z + h * V(z_next)

            return jax.lax.while_loop(lambda state: state[0] < ITERATIONS, iteration, (0, z))[1]

        return proximal_point

    def closed_form(self, flow: str, scheme: Any) -> np.ndarray:
        if flow == "official":
            raise no_official(self.name)
        return -joint(scheme)


RULE = ProximalPoint()
