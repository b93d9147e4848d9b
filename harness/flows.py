"""Flows whose time-h solution is compared with one update step.

Closed-form flows. For player i with raw field F_i (f for phi, g for theta) and rate r_i (alpha, lambda):

    z_i' = s r_i F_i - (h/2) r_i [ dF_i/dphi (c_i1 f) + dF_i/dtheta (c_i2 g) ]

with a leading scale s (1 except for heavy ball) and a 2x2 coefficient matrix c (THEORY.md §2-3). The
bracket is one Jacobian-vector product of F_i with the tangent (c_i1 f, c_i2 g), taken by autodiff.
Coefficients (a = alpha, l = lambda):

gradient flow                       c = 0                          (order 0)
modified, simultaneous / gd         c = [[a, l], [a, l]]           (joint convention, order 1; = IGR for
modified, alternating phi first     c = [[a/m, l], [-a, l/k]]       a single objective, also named "igr")
modified, alternating theta first   c = [[a/m, -l], [a, l/k]]
modified, extragradient and ogda    c = -[[a, l], [a, l]]          (V + (h/2) V'V)
modified, regularised               c = [[(1+u)a, l-r1], [a-r2, (1+u)l]]   (u = strengthen, (r1, r2) =
                                                                   Scheme.interaction_rates; joint convention
                                                                   with cancel = 1: self terms only, §5 item 9)
modified, midpoint                  c = 0                          (a second-order method)
modified, heavy ball (momentum b)   s = 1/(1-b), c = (1+b)/(1-b)^3 [[a, l], [a, l]]
official, simultaneous              c = [[a, a], [l, l]]           (official-code convention: own rate on
official, alternating phi first     c = [[a/m, a], [l - 2a, l/k]]   the interaction term; O(h^3) only
official, alternating theta first   c = [[a/m, a - 2l], [l, l/k]]   when a = l)
official, regularised               c = [[(1+u)a, a-r1], [l-r2, (1+u)l]]   (what the official convention
                                                                   predicts: self terms only for its own
                                                                   convention="official" update)

Regularised: one step is z + hV + h^2 W with W = (a (r1 f_theta g - u a f_phi f)/2, l (r2 g_phi f -
u l g_theta g)/2), so its first-order field is V + h (W - V'V/2); the official convention puts the own rate
a (l) where V'V/2 has the other player's rate l (a) on the interaction term.

Flows ``bea:P`` are the modified fields of order P derived automatically from the update rule (harness.bea).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from harness.bea import MAX_ORDER, modified_coefficients
from harness.game import Game, GameError
from harness.schemes import Scheme, update_map

FLOW_ORDERS = {"gradient": 0, "modified": 1, "official": 1, "igr": 1}
FLOW_NAMES = (*FLOW_ORDERS, "bea:P")


@dataclass(frozen=True)
class Flow:
    """A named flow: ``gradient``, ``modified``, ``official``, ``igr`` or ``bea:P`` (P = 0...6); its order p
    (local error O(h^(p+2)) when it is the right flow for a first-order method)."""

    name: str

    def __post_init__(self) -> None:
        if self.name in FLOW_ORDERS:
            return
        prefix, _, order = self.name.partition(":")
        if prefix != "bea" or not order.isdigit() or int(order) > MAX_ORDER:
            raise GameError(f"unknown flow {self.name!r}; choose one of {', '.join(FLOW_ORDERS)} or bea:P "
                            f"with P = 0...{MAX_ORDER}")

    @property
    def automatic(self) -> bool:
        return self.name.startswith("bea:")

    @property
    def order(self) -> int:
        return int(self.name.split(":")[1]) if self.automatic else FLOW_ORDERS[self.name]

    def to_dict(self) -> dict:
        return {"name": self.name, "order": self.order}


def flow_coefficients(flow: Flow, scheme: Scheme) -> tuple[float, np.ndarray]:
    """The leading scale s and coefficient matrix c of a closed-form ``flow`` for ``scheme``."""
    a, l, m, k, name = scheme.lr1, scheme.lr2, scheme.m, scheme.k, scheme.name
    if flow.automatic:
        raise GameError(f"{flow.name} is derived automatically; it has no closed-form coefficients")
    if name == "user" or (name == "rk4" and flow.name != "gradient"):
        raise GameError(f"no closed-form {flow.name!r} flow for {name!r}; check it against bea:P")
    lead = 1.0 / (1.0 - scheme.beta) if name == "heavy_ball" else 1.0
    joint = np.array([[a, l], [a, l]])
    if flow.name == "gradient" or (name == "midpoint" and flow.name != "official"):
        return lead, np.zeros((2, 2))
    if name == "regularised":
        r1, r2 = scheme.interaction_rates
        self_ = 1.0 + scheme.strengthen
        other = (a, l) if flow.name == "official" else (l, a)
        return lead, np.array([[self_ * a, other[0] - r1], [other[1] - r2, self_ * l]])
    if flow.name == "official":
        if name in ("simultaneous", "gd"):
            return lead, np.array([[a, a], [l, l]])
        if name != "alternating":
            raise GameError("the official-code convention exists for simultaneous, alternating and regularised "
                            f"updates, not {name!r}")
        if scheme.first == "phi":
            return lead, np.array([[a / m, a], [l - 2 * a, l / k]])
        return lead, np.array([[a / m, a - 2 * l], [l, l / k]])
    if name in ("simultaneous", "gd"):
        return lead, joint
    if name in ("extragradient", "ogda"):
        return lead, -joint
    if name == "heavy_ball":
        return lead, (1 + scheme.beta) / (1 - scheme.beta) ** 3 * joint
    if scheme.first == "phi":
        return lead, np.array([[a / m, l], [-a, l / k]])
    return lead, np.array([[a / m, -l], [a, l / k]])


def first_order_field(game: Game) -> Callable:
    """The closed-form field ``(z, h, params, (s, c)) -> z'`` of the module docstring; params, s and c are
    traced (params = Scheme.params: alpha, lambda first)."""
    a = game.dims[0]

    def field(z, h, params, coefficients):
        lead, c = coefficients
        raw = game.field(z)
        f, g = raw[:a], raw[a:]
        tangent1 = jnp.concatenate([c[0, 0] * f, c[0, 1] * g])
        tangent2 = jnp.concatenate([c[1, 0] * f, c[1, 1] * g])
        jvp1 = jax.jvp(game.field, (z,), (tangent1,))[1][:a]
        jvp2 = jax.jvp(game.field, (z,), (tangent2,))[1][a:]
        correction = jnp.concatenate([params[0] * jvp1, params[1] * jvp2])
        scaled = jnp.concatenate([params[0] * f, params[1] * g])
        return lead * scaled - 0.5 * h * correction

    return field


def flow_family(flow: Flow, scheme: Scheme, compiled_order: int | None = None) -> tuple[str, tuple]:
    """The family of ``flow`` (``"closed-form"`` or ``"bea:Q"``, Q the compiled order) and its traced
    coefficients: one compiled field per family serves every flow, learning rate and momentum in it.
    ``bea:P`` is compiled at order Q = max(P, compiled_order) with a traced truncation to order P, so
    the checks of bea:0 ... bea:Q on one game and rule share a kernel (its lower terms are exact)."""
    if flow.automatic:
        if scheme.multistep:
            raise GameError(f"{flow.name} needs a one-step update rule; {scheme.name} is multistep "
                            "(check it against its closed-form gradient or modified flow)")
        compiled = max(flow.order, compiled_order or 0)
        return f"bea:{compiled}", (jnp.arange(compiled + 1) <= flow.order,)
    lead, c = flow_coefficients(flow, scheme)
    return "closed-form", (jnp.asarray(lead), jnp.asarray(c))


def family_field(game: Game, structure: tuple, family: str) -> Callable:
    """The field ``(z, h, params, coefficients) -> z'`` of a flow family for a scheme structure; for
    ``bea:Q`` the coefficients are a mask that truncates f_1 + h f_2 + ... + h^Q f_{Q+1}."""
    if family == "closed-form":
        return first_order_field(game)
    order = Flow(family).order
    terms = modified_coefficients(update_map(game, structure), order)

    def truncated(z, h, params, coefficients):
        (mask,) = coefficients
        return (jnp.where(mask, h ** jnp.arange(order + 1, dtype=z.dtype), 0.0)) @ terms(z, params)

    return truncated


def flow_field(game: Game, flow: Flow, scheme: Scheme) -> Callable:
    """The vector field ``(z, h) -> z'`` of ``flow`` for ``scheme`` on ``game``."""
    family, coefficients = flow_family(flow, scheme)
    field = family_field(game, scheme.structure, family)
    params = scheme.params
    return jax.jit(lambda z, h: field(z, h, params, coefficients))
