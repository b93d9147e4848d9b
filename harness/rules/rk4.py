"""The classical Runge-Kutta step on V, of order 4 (no closed-form flow is stated here: check bea:P)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.model.game import Game
from harness.model.scaled_field import velocity
from harness.rules.base import Rule


@dataclass(frozen=True)
class RungeKutta4(Rule):
    name = "rk4"
    order = 4

    def step(self, game: Game, structure: tuple) -> Callable:
        def rk4(z, h, params):
            V = velocity(game, params)
            k1 = V(z)
            k2 = V(z + 0.5 * h * k1)
            k3 = V(z + 0.5 * h * k2)
            k4 = V(z + h * k3)
            return z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)

        return rk4


RULE = RungeKutta4()
