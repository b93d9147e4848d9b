"""Flows whose time-h solution is compared with one update step.

Every flow implemented here has the form, for player i with raw field F_i (f for phi, g for theta) and
rate r_i (alpha, lambda):

    z_i' = r_i F_i - (h/2) r_i [ dF_i/dphi (c_i1 f) + dF_i/dtheta (c_i2 g) ]

with a 2x2 coefficient matrix c (THEORY.md §2). The bracket is one Jacobian-vector product of F_i with
the tangent (c_i1 f, c_i2 g), taken by autodiff. Coefficients:

gradient flow                      c = 0                              (order 0)
modified, simultaneous             c = [[a, l], [a, l]]               (joint convention, order 1)
modified, alternating phi first    c = [[a/m, l], [-a, l/k]]
modified, alternating theta first  c = [[a/m, -l], [a, l/k]]
official, simultaneous             c = [[a, a], [l, l]]               (official-code convention: own
official, alternating phi first    c = [[a/m, a], [l - 2a, l/k]]       rate on the interaction term;
official, alternating theta first  c = [[a/m, a - 2l], [l, l/k]]       O(h^3) only when a = l)

(a = alpha, l = lambda.) For single-objective problems "modified" is implicit gradient regularisation,
x' = -a grad(E + (a h/4)|grad E|^2), also available under the name "igr".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from harness.game import Game, GameError
from harness.schemes import Scheme

FLOW_ORDERS = {"gradient": 0, "modified": 1, "official": 1, "igr": 1}


@dataclass(frozen=True)
class Flow:
    """A named flow: ``name`` and its order p (local error O(h^(p+2)) when it is the right flow)."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in FLOW_ORDERS:
            raise GameError(f"unknown flow {self.name!r}; choose one of {', '.join(FLOW_ORDERS)}")

    @property
    def order(self) -> int:
        return FLOW_ORDERS[self.name]

    def to_dict(self) -> dict:
        return {"name": self.name, "order": self.order}


def flow_coefficients(flow: Flow, scheme: Scheme) -> np.ndarray:
    """The coefficient matrix c of ``flow`` for ``scheme`` (see the module docstring)."""
    a, l, m, k = scheme.lr1, scheme.lr2, scheme.m, scheme.k
    if flow.name == "gradient":
        return np.zeros((2, 2))
    alternating = scheme.name == "alternating"
    if flow.name in ("modified", "igr"):
        if not alternating:
            return np.array([[a, l], [a, l]])
        if scheme.first == "phi":
            return np.array([[a / m, l], [-a, l / k]])
        return np.array([[a / m, -l], [a, l / k]])
    if not alternating:
        return np.array([[a, a], [l, l]])
    if scheme.first == "phi":
        return np.array([[a / m, a], [l - 2 * a, l / k]])
    return np.array([[a / m, a - 2 * l], [l, l / k]])


def first_order_field(game: Game) -> Callable:
    """The field ``(z, h, rates, c) -> z'`` of the module docstring, with rates and c traced."""
    a = game.dims[0]

    def field(z, h, rates, c):
        raw = game.field(z)
        f, g = raw[:a], raw[a:]
        tangent1 = jnp.concatenate([c[0, 0] * f, c[0, 1] * g])
        tangent2 = jnp.concatenate([c[1, 0] * f, c[1, 1] * g])
        jvp1 = jax.jvp(game.field, (z,), (tangent1,))[1][:a]
        jvp2 = jax.jvp(game.field, (z,), (tangent2,))[1][a:]
        correction = jnp.concatenate([rates[0] * jvp1, rates[1] * jvp2])
        scaled = jnp.concatenate([rates[0] * f, rates[1] * g])
        return scaled - 0.5 * h * correction

    return field


def flow_field(game: Game, flow: Flow, scheme: Scheme) -> Callable:
    """The vector field ``(z, h) -> z'`` of ``flow`` for ``scheme`` on ``game``."""
    field = first_order_field(game)
    rates = jnp.array([scheme.lr1, scheme.lr2])
    c = jnp.asarray(flow_coefficients(flow, scheme))
    return jax.jit(lambda z, h: field(z, h, rates, c))
