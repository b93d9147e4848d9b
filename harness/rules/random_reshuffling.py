"""Random reshuffling on a finite sum E = (1/m) sum_k C_k (a game with ``components``): one epoch, m steps of size
alpha h / m, one per component, in every order, averaged over the m! orders (the mean iterate of random
reshuffling): the epoch takes flow time h."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from harness.base.errors import FlowError, GameError
from harness.model.game import Game
from harness.rules.base import Rule


@dataclass(frozen=True)
class RandomReshuffling(Rule):
    name = "random_reshuffling"

    def step(self, game: Game, structure: tuple) -> Callable:
        components = game.metadata.get("components")
        if not components or game.kind != "single-objective":
            raise GameError(f"random_reshuffling needs a single-objective finite sum with components=(C_1, ..., "
                            f"C_m); game {game.name!r} declares none")
        gradients = [jax.grad(c) for c in components]
        orders = np.array(list(itertools.permutations(range(len(gradients)))))

        def epoch(z, h, params):  # while loops, not unrolled: Taylor mode and XLA see one step of one order
            size = params.alpha * h / len(gradients)

            def one_order(i):
                def one_step(state):
                    j, x = state
                    return j + 1, x - size * jax.lax.switch(jnp.asarray(orders)[i, j], gradients, x)
                return jax.lax.while_loop(lambda state: state[0] < len(gradients), one_step, (0, z))[1]

            def next_order(state):
                i, total = state
                return i + 1, total + one_order(i)

            total = jax.lax.while_loop(lambda state: state[0] < len(orders), next_order, (0, jnp.zeros_like(z)))[1]
            return total / len(orders)

        return epoch

    def closed_form(self, flow: str, scheme: Any) -> np.ndarray:
        raise FlowError(f"no closed-form {flow!r} flow for random_reshuffling (it needs the game's components); "
                        "check it against gradient, bea:P, or literature/smith_2021.py:reshuffling")


RULE = RandomReshuffling()
