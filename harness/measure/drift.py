"""Drift decomposition: the self terms and the interaction terms of a first-order modified flow (docs/theory.md §2).

A closed-form first-order flow (harness.flows) is z_i' = s r_i F_i + D_i with the drift of player i

    D_phi   = -(h/2) alpha  [c_11 f_phi f     +  c_12 f_theta g]
    D_theta = -(h/2) lambda [c_21 g_phi f     +  c_22 g_theta g]
               self term:  c_11 f_phi f, c_22 g_theta g    (a player's own gradient norm; IGR)
               interaction term: c_12 f_theta g, c_21 g_phi f   (the other player's)

with the coefficients c of the flow for the update rule (``flows.flow_coefficients``): ``modified`` is the
joint convention, ``official`` the official code's. Every product is one JVP of the raw field: along (f, 0)
it gives (f_phi f, g_phi f), along (0, g) it gives (f_theta g, g_theta g).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from harness.base.compiler import jit
from harness.flows import Flow, flow_coefficients
from harness.model.game import Game
from harness.rules.schemes import Scheme

TERMS = ("self φ", "interaction φ", "self θ", "interaction θ")


@functools.cache
def _products(game: Game):
    """Compiled ``path -> (along_f, along_g)``: the JVPs of the raw field along (f, 0) and (0, g) at each
    state (rows of a [time, state] array)."""
    a, b = game.dims

    def one(z):
        raw = game.field(z)
        along_f = jax.jvp(game.field, (z,), (jnp.concatenate([raw[:a], jnp.zeros(b)]),))[1]
        along_g = jax.jvp(game.field, (z,), (jnp.concatenate([jnp.zeros(a), raw[a:]]),))[1]
        return along_f, along_g

    return jit(jax.vmap(one))


def _terms(game: Game, flow: Flow, scheme: Scheme, path: np.ndarray, h: float) -> dict[str, np.ndarray]:
    """The drift vectors of each term at every state of ``path``: arrays [time, player's size]."""
    _, c = flow_coefficients(flow, scheme)
    a = game.dims[0]
    along_f, along_g = (np.asarray(x) for x in _products(game)(jnp.asarray(path, dtype=jnp.float64)))
    alpha, lam = scheme.lr1 * h / 2, scheme.lr2 * h / 2
    return {
        TERMS[0]: -alpha * c[0, 0] * along_f[:, :a],
        TERMS[1]: -alpha * c[0, 1] * along_g[:, :a],
        TERMS[2]: -lam * c[1, 1] * along_g[:, a:],
        TERMS[3]: -lam * c[1, 0] * along_f[:, a:],
    }


def drift_terms(game: Game, flow: Flow, scheme: Scheme, z: np.ndarray, h: float) -> dict[str, np.ndarray]:
    """The four drift vectors of the module docstring at z, keyed by TERMS (φ terms have player 1's size,
    θ terms player 2's); their sum is the flow's field minus s (alpha f, lambda g)."""
    return {name: v[0] for name, v in _terms(game, flow, scheme, np.asarray(z)[None, :], h).items()}


def drift_sizes(game: Game, flow: Flow, scheme: Scheme, z: np.ndarray, h: float) -> dict[str, float]:
    """The Euclidean norm of each drift term at z (TERMS order)."""
    return {name: float(np.linalg.norm(v)) for name, v in drift_terms(game, flow, scheme, z, h).items()}


@dataclass
class DriftAlongPath:
    """Norms of the drift terms at each state of a path ([time, state]) for each flow: ``sizes[flow][term]``
    is an array over the path."""

    game: str
    scheme: Scheme
    h: float
    path: np.ndarray
    sizes: dict[str, dict[str, np.ndarray]]


def drift_along(game: Game, scheme: Scheme, path: np.ndarray, h: float,
                flows: Sequence[str] = ("modified", "official")) -> DriftAlongPath:
    """The drift sizes of each flow (default: both conventions) at every state of ``path``."""
    sizes = {}
    for name in flows:
        terms = _terms(game, Flow(name), scheme, np.asarray(path), h)
        sizes[name] = {term: np.linalg.norm(v, axis=1) for term, v in terms.items()}
    return DriftAlongPath(game.name, scheme, h, np.asarray(path), sizes)
