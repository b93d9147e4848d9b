"""The rate-scaled joint field V(z) = (alpha f(z), lambda g(z)), built here alone: every rule's step, flow and
measurement that scales the game's field by the players' rates alpha = ``lr1`` and lambda = ``lr2`` uses it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp


def rates(game: Any, alpha, lam):
    """(alpha, ..., alpha, lambda, ..., lambda): the rates of the joint state's coordinates."""
    a, b = game.dims
    return jnp.concatenate([jnp.full(a, alpha), jnp.full(b, lam)])


def velocity(game: Any, params) -> Callable:
    """V(z) = (alpha f(z), lambda g(z)) with alpha = ``params.alpha``, lambda = ``params.lam``
    (harness.rules.base.Traced, traced or not)."""
    scale = rates(game, params.alpha, params.lam)
    return lambda z: scale * game.field(z)
