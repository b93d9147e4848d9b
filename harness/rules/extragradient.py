"""Extragradient: z' = z + h V(z + h V(z)); its first-order flow is V + (h/2) V'V."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.model.game import Game
from harness.model.scaled_field import velocity
from harness.rules.base import Rule, joint, no_official


@dataclass(frozen=True)
class Extragradient(Rule):
    name = "extragradient"

    def step(self, game: Game, structure: tuple) -> Callable:
        def extragradient(z, h, params):
            V = velocity(game, params)
            return z + h * V(z + h * V(z))

        return extragradient

    def closed_form(self, flow: str, scheme: Any) -> np.ndarray:
        if flow == "official":
            raise no_official(self.name)
        return -joint(scheme)


RULE = Extragradient()
