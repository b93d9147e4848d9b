"""Update rules: one discrete step z -> z' of size h on the joint state z = (phi, theta).

Learning rates are alpha*h for phi and lambda*h for theta (alpha = ``lr1``, lambda = ``lr2``).

- simultaneous: phi' = phi + alpha h f(phi, theta),  theta' = theta + lambda h g(phi, theta)
- alternating (phi first): m Euler steps of size alpha h/m on phi with theta frozen, then k steps of
  size lambda h/k on theta using the new phi; ``first="theta"`` is the mirror image.
- gd: plain gradient descent for single-objective problems (simultaneous with one player).

The rates enter the compiled step as traced arguments, so one compiled kernel serves every (alpha,
lambda); m, k and the order are structure (unrolled plain jnp code, which Taylor-mode AD can see through).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp

from harness.game import Game, GameError

SCHEME_NAMES = ("simultaneous", "alternating", "gd")


@dataclass(frozen=True)
class Scheme:
    """An update rule with its parameters."""

    name: str = "simultaneous"
    lr1: float = 1.0
    lr2: float = 1.0
    m: int = 1
    k: int = 1
    first: str = "phi"

    def __post_init__(self) -> None:
        if self.name not in SCHEME_NAMES:
            raise GameError(f"unknown scheme {self.name!r}; choose one of {', '.join(SCHEME_NAMES)}")
        for label, rate in (("lr1", self.lr1), ("lr2", self.lr2)):
            if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
                raise GameError(f"{label} must be a positive finite number, got {rate!r}")
        for label, count in (("m", self.m), ("k", self.k)):
            if not (isinstance(count, int) and not isinstance(count, bool) and count >= 1):
                raise GameError(f"{label} must be a positive integer, got {count!r}")
        if self.first not in ("phi", "theta"):
            raise GameError(f"first must be 'phi' or 'theta', got {self.first!r}")
        if self.name != "alternating" and (self.m, self.k, self.first) != (1, 1, "phi"):
            raise GameError(f"m, k and first apply to alternating updates only, not {self.name!r}")

    @property
    def structure(self) -> tuple:
        """What the compiled step depends on (everything but the learning rates)."""
        return ("alternating", self.m, self.k, self.first) if self.name == "alternating" else ("simultaneous",)

    @property
    def label(self) -> str:
        text = f"{self.name}(lr1={self.lr1:g}, lr2={self.lr2:g}"
        if self.name == "alternating":
            text += f", m={self.m}, k={self.k}, first={self.first}"
        return text + ")"

    def to_dict(self) -> dict:
        return asdict(self)


def update_map(game: Game, structure: tuple) -> Callable:
    """The step ``(z, h, rates) -> z'`` for a scheme structure; ``rates = (alpha, lambda)``."""
    if structure[0] == "simultaneous":

        def step(z, h, rates):
            phi, theta = game.split(z)
            return jnp.concatenate(
                [phi + rates[0] * h * game.field1(phi, theta), theta + rates[1] * h * game.field2(phi, theta)]
            )

        return step

    _, m, k, first = structure

    def step(z, h, rates):
        phi, theta = game.split(z)

        def move_phi(phi, theta):
            for _ in range(m):
                phi = phi + (rates[0] * h / m) * game.field1(phi, theta)
            return phi

        def move_theta(phi, theta):
            for _ in range(k):
                theta = theta + (rates[1] * h / k) * game.field2(phi, theta)
            return theta

        if first == "phi":
            phi = move_phi(phi, theta)
            theta = move_theta(phi, theta)
        else:
            theta = move_theta(phi, theta)
            phi = move_phi(phi, theta)
        return jnp.concatenate([phi, theta])

    return step


def update_rule(game: Game, scheme: Scheme) -> Callable:
    """The step ``(z, h) -> z'`` of ``scheme`` on ``game`` as a plain JAX function."""
    step = update_map(game, scheme.structure)
    rates = jnp.array([scheme.lr1, scheme.lr2])
    return jax.jit(lambda z, h: step(z, h, rates))
