"""Simultaneous gradient descent: z' = z + h V(z); with per-player optimizers (harness.rules.optimizers), their step on
the lifted state (z, buffers, step count)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from harness.model.game import Game
from harness.model.scaled_field import velocity
from harness.rules.base import Rule, joint
from harness.rules.optimizers import lifted_step


@dataclass(frozen=True)
class Simultaneous(Rule):
    name = "simultaneous"
    kinds: ClassVar[tuple[str, ...]] = ("simultaneous", "optimizers")

    def structure(self, scheme: Any) -> tuple:
        if scheme.optimizers is not None:
            return ("optimizers", "simultaneous", scheme.optimizers)
        return ("simultaneous",)

    def step(self, game: Game, structure: tuple) -> Callable:
        if structure[0] == "optimizers":
            return lifted_step(game, structure[1], structure[2])
        return lambda z, h, params: z + h * velocity(game, params)(z)

    def closed_form(self, flow: str, scheme: Any) -> np.ndarray:
        if flow == "official":
            return np.array([[scheme.lr1, scheme.lr1], [scheme.lr2, scheme.lr2]])
        return joint(scheme)


RULE = Simultaneous()
