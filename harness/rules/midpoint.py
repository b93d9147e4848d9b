"""The explicit midpoint rule: z' = z + h V(z + (h/2) V(z)), of order 2 (no h^1 term: its modified flow is V)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.model.game import Game
from harness.model.scaled_field import velocity
from harness.rules.base import Rule, no_official


@dataclass(frozen=True)
class Midpoint(Rule):
    name = "midpoint"
    order = 2

    def step(self, game: Game, structure: tuple) -> Callable:
        def midpoint(z, h, params):
            V = velocity(game, params)
            return z + h * V(z + 0.5 * h * V(z))

        return midpoint

    def closed_form(self, flow: str, scheme: Any) -> np.ndarray:
        if flow == "official":
            raise no_official(self.name)
        return np.zeros((2, 2))


RULE = Midpoint()
